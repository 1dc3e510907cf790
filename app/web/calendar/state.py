"""What the calendar's URL says: view, date, zone and filters; bad values are a 400."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from app.models import User
from app.services import access
from app.services.calendar.entries import OUTCOMES, Filters
from app.services.calendar.window import VIEWS
from app.web.i18n import parse_zone
from app.web.urlstate import UrlState

MAX_QUERY = 200
# Entries of one job on one day a view shows one by one; beyond, one bar with the count.
DENSE_AFTER = {"month": 3, "week": 4, "day": 24, "list": 24}


@dataclass(frozen=True)
class CalendarState(UrlState):
    """The URL's state; ``zone`` empty means the shell's display zone."""

    view: str = "month"
    date: str = ""
    zone: str = ""
    q: str = ""
    task: str = ""
    outcome: str = ""
    owner: str = ""
    queue: str = ""

    @property
    def day(self) -> dt.date:
        """The anchor day (parsed on the way in, so always valid here)."""
        return dt.date.fromisoformat(self.date)

    @property
    def filtered(self) -> bool:
        """True when a filter narrows the calendar."""
        return bool(self.q or self.task or self.outcome or self.owner or self.queue)

    def filters(self) -> Filters:
        """The service's filters."""
        return Filters(
            q=self.q or None,
            task=self.task or None,
            outcome=self.outcome or None,
            owner_id=uuid.UUID(self.owner) if self.owner else None,
            queue=self.queue or None,
        )


def parse_state(args: MultiDict[str, str], user: User, today: dt.date) -> CalendarState:
    """Read the URL; an unknown view, outcome, zone, owner or a bad date is a 400."""
    view = args.get("view") or "month"
    outcome = args.get("outcome", "")
    if view not in VIEWS or (outcome and outcome not in OUTCOMES):
        raise BadRequest()
    zone = args.get("zone", "").strip()
    if zone and parse_zone(zone) is None:
        raise BadRequest()
    return CalendarState(
        view=view,
        date=_parse_day(args.get("date"), today).isoformat(),
        zone=zone,
        q=args.get("q", "").strip()[:MAX_QUERY],
        task=args.get("task", "").strip()[:100],
        outcome=outcome,
        owner=_owner(args.get("owner", ""), user),
        queue=args.get("queue", "").strip()[:50],
    )


def _parse_day(raw: str | None, today: dt.date) -> dt.date:
    if not raw:
        return today
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRequest() from None
    if not 1971 <= day.year <= 9997:  # zone offsets overflow datetime at the far ends
        raise BadRequest()
    return day


def _owner(raw: str, user: User) -> str:
    """An owner filter only for users who see every job (editors see their own anyway)."""
    if not raw or not access.sees_all(user):
        return ""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise BadRequest() from None
