"""What a page's URL says, as a frozen dataclass, and the one rule for links back to it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class UrlState:
    """Base of every page state read from a query string (filters, sort, view, page).

    Subclasses are frozen dataclasses whose fields all have defaults; a link
    carries only what differs from them, so a shared URL stays short and
    the same view always has the same URL.
    """

    def url_args(self, **changes: Any) -> dict[str, Any]:
        """Query arguments for a link to this state with ``changes``; defaults, blanks left out."""
        blank = type(self)()
        merged = {f.name: getattr(self, f.name) for f in fields(self)} | changes
        defaults = {f.name: getattr(blank, f.name) for f in fields(self)}
        return {
            key: value
            for key, value in merged.items()
            if value not in ("", None) and value != defaults.get(key)
        }
