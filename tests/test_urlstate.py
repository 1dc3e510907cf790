"""Links to a page state carry only what differs from its defaults."""

from __future__ import annotations

from dataclasses import dataclass

from app.web.urlstate import UrlState


@dataclass(frozen=True)
class Example(UrlState):
    view: str = "month"
    q: str = ""
    page: int = 1


def test_defaults_and_blanks_are_left_out_changes_win():
    state = Example(view="week", q="backup", page=3)
    assert state.url_args() == {"view": "week", "q": "backup", "page": 3}
    assert state.url_args(page=1, q="") == {"view": "week"}
    assert Example().url_args() == {}
    assert Example().url_args(view="day", cursor="abc") == {"view": "day", "cursor": "abc"}
