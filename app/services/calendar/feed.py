"""The calendar for any span of instants (the JSON feed, the ICS file), not a view's days."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app import instants, timemath
from app.extensions import DbSession
from app.i18n import _
from app.models import User
from app.services.calendar.entries import Aggregation, CalendarData, Filters, calendar_window
from app.services.calendar.window import Window
from app.services.errors import Invalid

# FullCalendar asks for six weeks in its month view; a little more is allowed, not a year.
MAX_SPAN = timedelta(days=93)
# A job with more entries than this on one day becomes one all-day summary event.
FEED_DENSE_AFTER = 96
_EPSILON = timedelta(microseconds=1)


def _zone(name: str) -> ZoneInfo:
    try:
        return timemath.parse_timezone(name)
    except timemath.ScheduleError as error:
        raise Invalid(error.message, {"time_zone": error.message}) from None


def span_window(start: datetime, end: datetime, zone: ZoneInfo) -> Window:
    """The local days covering ``[start, end)``; a span that is empty or too long is refused."""
    if end <= start:
        raise Invalid(_("The end must be after the start."), {"end": _("must be after start")})
    if end - start > MAX_SPAN:
        message = _("Ask for at most 93 days at a time.")
        raise Invalid(message, {"end": message})
    first = start.astimezone(zone).date()
    last = (end - _EPSILON).astimezone(zone).date() + timedelta(days=1)
    return Window("range", first, first, last, zone)


def calendar_span(
    session: DbSession,
    user: User,
    bounds: tuple[datetime, datetime],
    zone_name: str,
    filters: Filters,
    now: datetime,
    dense_after: int = FEED_DENSE_AFTER,
    aggregation: Aggregation | None = None,
) -> CalendarData:
    """The calendar's entries in ``[start, end)``, bars (and, aggregated, every job's totals)
    for the days touched.

    Naive bounds are wall time in the zone (FullCalendar sends them so for a named zone).
    """
    zone = _zone(zone_name)
    start, end = (instants.in_zone(bound, zone) for bound in bounds)
    window = span_window(start, end, zone)
    data = calendar_window(session, user, window, filters, now, dense_after, aggregation)
    data.entries = [e for e in data.entries if start <= e.start < end]
    return data
