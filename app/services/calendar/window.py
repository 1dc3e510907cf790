"""The calendar's days: which local days a view shows, where they start in UTC, DST days.

A local day does not always last 24 hours (DST), and in a few zones midnight
itself can be skipped, so each day's first instant comes from the engine's own
wall-time rule (``timemath.resolve_wall_time``), never from adding hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from app import timemath

VIEWS = ("month", "week", "day", "list")
_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Window:
    """The local days ``[first, last)`` of a view in ``zone``, and that span in UTC."""

    view: str
    anchor: date
    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        """The UTC instant the first day starts."""
        return day_start(self.first, self.zone)

    @property
    def end(self) -> datetime:
        """The UTC instant after the last day (exclusive)."""
        return day_start(self.last, self.zone)

    @property
    def days(self) -> list[date]:
        """Every local day shown, in order."""
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days)]

    @cached_property
    def bounds(self) -> list[tuple[date, datetime, datetime]]:
        """Each day with its first instant and the next day's (computed once per window)."""
        starts = [day_start(day, self.zone) for day in [*self.days, self.last]]
        return list(zip(self.days, starts, starts[1:], strict=False))

    def bounds_of(self, day: date) -> datetime:
        """The first instant of one of the window's days."""
        return self.bounds[(day - self.first).days][1]

    def day_of(self, instant: datetime) -> date:
        """The local day an instant falls on."""
        return instant.astimezone(self.zone).date()


@dataclass(frozen=True)
class Transition:
    """A DST change on one local day: the wall clock jumps from ``before`` to ``after``."""

    instant: datetime
    before: datetime
    after: datetime

    @property
    def forward(self) -> bool:
        """True when clocks go forward (a gap), False when they go back (a repeated hour)."""
        return self.after > self.before


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local day (midnight, or the end of a gap that swallowed it)."""
    return timemath.resolve_wall_time(datetime.combine(day, time()), zone)


def window_for(view: str, anchor: date, zone: ZoneInfo, first_weekday: int) -> Window:
    """The days a view around ``anchor`` shows; months include leading and trailing days.

    ``first_weekday`` is Python's (0 = Monday), from the locale.
    """
    if view == "day":
        return Window(view, anchor, anchor, anchor + _DAY, zone)
    if view == "month":
        first_of_month = anchor.replace(day=1)
        next_month = (first_of_month + timedelta(days=32)).replace(day=1)
        first = _week_start(first_of_month, first_weekday)
        last = _week_start(next_month - _DAY, first_weekday) + timedelta(days=7)
        return Window(view, anchor, first, last, zone)
    first = _week_start(anchor, first_weekday)
    return Window(view, anchor, first, first + timedelta(days=7), zone)


def _week_start(day: date, first_weekday: int) -> date:
    return day - timedelta(days=(day.weekday() - first_weekday) % 7)


def step(view: str, anchor: date, forward: bool) -> date:
    """The anchor of the previous or next page of a view."""
    sign = 1 if forward else -1
    if view == "month":
        month_index = anchor.year * 12 + anchor.month - 1 + sign
        year, month = divmod(month_index, 12)
        return date(year, month + 1, 1)
    return anchor + sign * (_DAY if view == "day" else timedelta(days=7))


def transitions(window: Window) -> dict[date, Transition]:
    """The days of the window on which the display zone's offset changes."""
    found: dict[date, Transition] = {}
    for day, begin, end in window.bounds:
        if _offset(begin, window.zone) != _offset(end - _SECOND, window.zone):
            found[day] = _transition(begin, end, window.zone)
    return found


def _transition(low: datetime, high: datetime, zone: ZoneInfo) -> Transition:
    """Bisect (in whole seconds; zone changes fall on them) for the instant the offset changes."""
    before_offset = _offset(low, zone)
    while high - low > _SECOND:
        middle = low + (high - low) // 2
        middle -= timedelta(microseconds=middle.microsecond)
        if _offset(middle, zone) == before_offset:
            low = middle
        else:
            high = middle
    naive = high.astimezone(UTC).replace(tzinfo=None)
    return Transition(high, naive + before_offset, naive + _offset(high, zone))


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)
