"""Future fire times for the calendar, listed or (for frequent jobs) counted per day.

Times come from ``schedule.upcoming``, the function that arms slots. A cron or
one-off rule's times depend only on the rule, its zone and the start/end dates,
so jobs sharing those (many jobs run "0 * * * *") share one computation; the
budget counts what is computed, so a request never computes more than its cap.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app import timemath
from app.models import ScheduledJob
from app.services.calendar import repeat
from app.services.calendar.window import Window
from app.services.scheduling import schedule

_EPSILON = timedelta(microseconds=1)
SCHEDULED, PAUSED = "scheduled", "paused"


@dataclass
class Rule:
    """One computation: the fire times in the window, and each day's slice of them."""

    times: list[datetime]
    days: dict[date, tuple[int, int]]
    flags: list[timemath.FireFlags] | None = None
    dense: bool = False

    def busiest(self) -> int:
        """The most fire times on one day."""
        return max((high - low for low, high in self.days.values()), default=0)


@dataclass
class Future:
    """Listed occurrences (job, time, flags), per-day counts of frequent jobs, and the cap."""

    listed: list[tuple[ScheduledJob, datetime, timemath.FireFlags]] = field(default_factory=list)
    counts: dict[tuple[ScheduledJob, date], Counter[str]] = field(default_factory=dict)
    capped: bool = False
    dense_jobs: set[ScheduledJob] = field(default_factory=set)


def future(
    jobs: Iterable[ScheduledJob], window: Window, now: datetime, dense_after: int, budget: int
) -> Future:
    """Each job's fire times after ``now`` in the window; a job with more than ``dense_after``
    on some day is counted per day instead of listed. At most ``budget`` times computed."""
    result = Future()
    after, until = max(now, window.start - _EPSILON), window.end - _EPSILON
    if after >= until:
        return result
    shared: dict[tuple[object, ...], Rule] = {}
    for job in sorted(jobs, key=lambda j: (j.name.lower(), j.id)):
        key = _share_key(job)
        rule = shared.get(key) if key is not None else None
        if rule is None:
            if budget <= 0:
                result.capped = True
                continue
            rule, computed, capped = _compute(job, window, (after, until), budget, dense_after)
            result.capped |= capped
            budget -= computed
            if key is not None:
                shared[key] = rule
        if rule.dense or rule.busiest() > dense_after:
            result.dense_jobs.add(job)
        if rule.busiest() > dense_after:
            result.counts.update(_day_counts(job, rule))
        else:
            result.listed += _listed(job, rule)
    return result


def _compute(
    job: ScheduledJob,
    window: Window,
    span: tuple[datetime, datetime],
    budget: int,
    dense_after: int,
) -> tuple[Rule, int, bool]:
    """One rule's times: an every-day cron rule day by day (repeating days reuse one day
    when it is dense), anything else in one engine call. Returns how many were computed."""
    after, until = span
    if repeat.every_day(job, after, until):
        found = repeat.day_times(job, window, span, budget, dense_after)
        return Rule(found.times, found.days, dense=found.dense), found.computed, found.capped
    times = schedule.upcoming(job, after, budget + 1, until)
    capped = len(times) > budget
    times = times[:budget]
    return Rule(times, _day_slices(times, window)), len(times), capped


def _share_key(job: ScheduledJob) -> tuple[object, ...] | None:
    """What a cron or one-off job's times depend on; None for intervals (anchored per job)."""
    trigger = schedule.trigger_of(job)
    if isinstance(trigger, timemath.IntervalTrigger):
        return None
    return (trigger, job.timezone, job.start_date, job.end_date)


def _day_slices(times: list[datetime], window: Window) -> dict[date, tuple[int, int]]:
    """Where each local day's times start and end in the (sorted) list."""
    slices = {}
    for day, begin, end in window.bounds:
        low, high = bisect_left(times, begin), bisect_left(times, end)
        if high > low:
            slices[day] = (low, high)
    return slices


def _listed(
    job: ScheduledJob, rule: Rule
) -> list[tuple[ScheduledJob, datetime, timemath.FireFlags]]:
    """The job's times with the preview's DST flags (computed once per rule)."""
    if rule.flags is None:
        trigger, zone = schedule.trigger_of(job), schedule.zone_of(job)
        rule.flags = [timemath.classify_fire(trigger, moment, zone) for moment in rule.times]
    return [(job, moment, flags) for moment, flags in zip(rule.times, rule.flags, strict=True)]


def _day_counts(job: ScheduledJob, rule: Rule) -> dict[tuple[ScheduledJob, date], Counter[str]]:
    """Per-day counts, split into slots before a paused job's resume time and after."""
    counts = {}
    for day, (low, high) in rule.days.items():
        held = _held(job, rule.times, low, high)
        split = ((PAUSED, held), (SCHEDULED, high - low - held))
        counts[(job, day)] = Counter({status: n for status, n in split if n})
    return counts


def _held(job: ScheduledJob, times: list[datetime], low: int, high: int) -> int:
    if not job.is_paused:
        return 0
    if job.resume_at is None:
        return high - low
    return bisect_left(times, job.resume_at, low, high) - low


def paused_at(job: ScheduledJob, moment: datetime) -> bool:
    """Whether a slot of this job falls while it is paused (faded until its resume time)."""
    return job.is_paused and (job.resume_at is None or moment < job.resume_at)
