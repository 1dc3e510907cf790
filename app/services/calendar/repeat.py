"""An every-day cron rule's fire times over many days, computing only a few of those days.

A rule like ``30 * * * *`` (no day, month or weekday restriction) fires at the
same wall times every day. While neither the display zone nor the job's zone
changes offset, a display day is exactly 24 hours and its fire times are the
previous such day's moved by whole days. So the engine (``schedule.upcoming``)
computes one full day and each later day with the same offsets reuses it;
partial days, DST days and the day after one are computed by the engine.

Only used to *count* a rule that is dense in the view (more times a day than a
cell lists); a rule that is listed is computed day by day by the engine alone.
tests/test_calendar_repeat.py checks the result equals the engine's on the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app import cronfields, timemath
from app.models import ScheduledJob
from app.services.calendar.window import Window
from app.services.scheduling import schedule

_EPSILON = timedelta(microseconds=1)
_SECOND = timedelta(seconds=1)
_DAY_FIELDS = (cronfields.DAY, cronfields.MONTH, cronfields.WEEKDAY)


@dataclass
class Times:
    """The rule's times after ``after`` in the window, each day's slice, and the engine's work."""

    times: list[datetime] = field(default_factory=list)
    days: dict[date, tuple[int, int]] = field(default_factory=dict)
    computed: int = 0
    capped: bool = False
    dense: bool = False


@dataclass(frozen=True)
class _Template:
    begin: datetime
    times: list[datetime]
    shape: tuple[timedelta, timedelta]


def every_day(job: ScheduledJob, after: datetime, until: datetime) -> bool:
    """A cron rule with no day restriction whose start/end dates do not cut the span."""
    trigger = schedule.trigger_of(job)
    if not isinstance(trigger, timemath.CronTrigger):
        return False
    if job.start_date is not None and job.start_date > after:
        return False
    if job.end_date is not None and job.end_date < until:
        return False
    spec = cronfields.parse(trigger.expression)
    return all(spec.fields[kind].everything for kind in _DAY_FIELDS)


def day_times(
    job: ScheduledJob,
    window: Window,
    span: tuple[datetime, datetime],
    budget: int,
    dense_after: int,
) -> Times:
    """The job's times in ``span`` (``after`` exclusive, ``until`` inclusive), day by day.

    A full day with the same offsets as the last full day the engine computed, and
    more than ``dense_after`` times, is that day's times moved by whole days; every
    other day comes from the engine, which at most ``budget`` times are asked of.
    """
    after, until = span
    result = Times()
    zone = schedule.zone_of(job)
    template: _Template | None = None
    whole_day_seen = False
    for day, begin, end in window.bounds:
        low, high = max(begin - _EPSILON, after), min(end - _EPSILON, until)
        if high <= low:
            continue
        full = low == begin - _EPSILON and high == end - _EPSILON
        whole_day_seen |= full
        shape = _shape(begin, end, window.zone, zone) if full else None
        if template is not None and shape == template.shape:
            moved = begin - template.begin
            found = [moment + moved for moment in template.times]
        else:
            found = schedule.upcoming(job, low, budget - result.computed + 1, high)
            if len(found) + result.computed > budget:
                result.capped = True
                found = found[: budget - result.computed]
            result.computed += len(found)
            if shape is not None and len(found) > dense_after:
                template = _Template(begin, found, shape)
        if found:
            result.days[day] = (len(result.times), len(result.times) + len(found))
            result.times += found
        if result.capped:
            break
    result.dense = template is not None or (
        not whole_day_seen and _probe(job, window, dense_after, result, budget)
    )
    return result


def _probe(job: ScheduledJob, window: Window, dense_after: int, result: Times, budget: int) -> bool:
    """Whether one whole day of the rule has more than ``dense_after`` times: decides how a
    window that is mostly past draws the job (bars, its runs counted) when little is to come."""
    if budget - result.computed <= dense_after:
        return False
    _day, begin, end = window.bounds[0]
    probed = schedule.upcoming(job, begin - _EPSILON, dense_after + 1, end - _EPSILON)
    result.computed += len(probed)
    return len(probed) > dense_after


def _shape(
    begin: datetime, end: datetime, display: ZoneInfo, zone: ZoneInfo
) -> tuple[timedelta, timedelta] | None:
    """Both zones' offsets over a day, or None when either changes during it (a DST day)."""
    offsets = [_offset(moment, tz) for tz in (display, zone) for moment in (begin, end - _SECOND)]
    if offsets[0] != offsets[1] or offsets[2] != offsets[3]:
        return None
    return offsets[0], offsets[2]


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)
