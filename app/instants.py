"""The one rule for every time Almanac accepts (API fields, schedule configs, filters).

A value with ``Z`` or an offset is that instant. A date (``2026-12-03``) or a
time without offset names no instant by itself: a *filter* (history, retries)
and a pause's ``resumeAt`` read it as UTC; a *schedule* field (``runAt``,
``startDate``, ``endDate``) reads it as wall time in the job's zone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from app import timemath

# Date, or date and time: what fromisoformat reads, minus its compact and week forms.
_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?",
    re.IGNORECASE,
)
SHAPE_HINT = "a date (2026-12-03) or a time (2026-12-03T09:00:00, with Z or an offset if you like)"


def parse(value: str | datetime | date) -> datetime:
    """A time as given: aware when it carries ``Z`` or an offset, naive otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = value.strip()
        if not _SHAPE.fullmatch(text):
            raise ValueError(f"must be {SHAPE_HINT}")
        try:
            moment = datetime.fromisoformat(text.upper())
        except ValueError:
            raise ValueError(f"must be a real date and time: {SHAPE_HINT}") from None
    if not timemath.MIN_YEAR <= moment.year <= timemath.MAX_YEAR:
        raise ValueError(f"must be between the years {timemath.MIN_YEAR} and {timemath.MAX_YEAR}")
    return moment


def as_utc(moment: datetime) -> datetime:
    """Filters and ``resumeAt``: a naive time is UTC; an aware one is converted to UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """Schedule bounds: a naive time is wall time in ``zone``; the instant (UTC) either way."""
    if moment.tzinfo is None:
        return timemath.resolve_wall_time(moment, zone)
    return moment.astimezone(UTC)


def wall_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """A one-off's ``runAt``: the naive wall time in ``zone`` (an instant is converted)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(zone).replace(tzinfo=None)


def has_offset(text: str) -> bool:
    """True when a well-formed time string carries ``Z`` or an offset."""
    try:
        return parse(text).tzinfo is not None
    except ValueError:
        return False
