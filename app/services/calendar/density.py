"""Counting a frequent interval job's slots per day without listing each one.

An every-minute job has 1,440 slots a day; listing a month of them would blow
the calendar's budget on one job. Interval slots are pure elapsed time
(``anchor + k·every``, SPEC §4.1), so each day's count follows from the first
slot the engine itself computes for that day (``schedule.upcoming``) and the
day's end: no fire time is invented here, only counted.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from app import timemath
from app.models import ScheduledJob
from app.services.calendar.window import Window
from app.services.scheduling import schedule

_EPSILON = timedelta(microseconds=1)
_DAY = timedelta(days=1)


def is_dense(job: ScheduledJob, dense_after: int) -> bool:
    """An interval job firing more than ``dense_after`` times on any day."""
    trigger = schedule.trigger_of(job)
    return isinstance(trigger, timemath.IntervalTrigger) and trigger.every * dense_after < _DAY


def day_counts(
    job: ScheduledJob, window: Window, now: datetime, paused: str, scheduled: str
) -> dict[date, Counter[str]]:
    """The job's future slot count per local day of the window, split paused/scheduled.

    The engine gives the first slot from the window's start on; every later slot is
    that one plus a whole number of intervals (elapsed time), up to the end date.
    """
    trigger = schedule.trigger_of(job)
    assert isinstance(trigger, timemath.IntervalTrigger)
    every = trigger.every
    first = schedule.upcoming(job, max(now, window.start - _EPSILON), 1, window.end - _EPSILON)
    if not first:
        return {}
    counts: dict[date, Counter[str]] = {}
    for day, begin, end in window.bounds:
        limit = end - _EPSILON if job.end_date is None else min(end - _EPSILON, job.end_date)
        if limit < first[0]:
            continue
        # The first slot at or after ``begin`` (never before the engine's first).
        head = first[0] if begin <= first[0] else first[0] + -(-(begin - first[0]) // every) * every
        if head > limit:
            continue
        total = (limit - head) // every + 1
        counts[day] = _split(job, head, limit, every, total, paused, scheduled)
    return counts


def _split(
    job: ScheduledJob,
    first: datetime,
    limit: datetime,
    every: timedelta,
    total: int,
    paused: str,
    scheduled: str,
) -> Counter[str]:
    """How many of a day's slots fall before the paused job's resume time."""
    if not job.is_paused:
        return Counter({scheduled: total})
    if job.resume_at is None or job.resume_at > limit:
        return Counter({paused: total})
    held = 0 if job.resume_at <= first else -(-(job.resume_at - first) // every)
    return Counter({key: n for key, n in ((paused, held), (scheduled, total - held)) if n})
