"""Totals per day or hour, when too many jobs are visible to draw them one by one.

The issue caps a request at 10,000 computed occurrences: beyond, it aggregates
and says so. A big installation (10,000 jobs) would otherwise build one bar per
job per day. Here each cell of the grid (a local day, or an hour of one) gets
the counts of all visible jobs together, in work that does not grow with jobs:

- past: one ``GROUP BY`` bucket and outcome over the window's runs (a retried
  run counted once, with its last attempt's outcome, as the per-job path folds it);
- future: the engine's own fire times (``schedule.upcoming``, ``repeat``) computed
  once per *distinct* schedule (type, rule, zone, start/end dates, interval anchor,
  pause), then multiplied by the number of jobs sharing it.

``tests/test_calendar_aggregate.py`` checks the totals equal the per-job path's.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    ARRAY,
    DateTime,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from app import timemath
from app.extensions import DbSession
from app.models import (
    FAILURE_STATUSES,
    Execution,
    ExecutionStatus,
    JobStatus,
    JobType,
    ScheduledJob,
)
from app.services.calendar import density, repeat
from app.services.calendar.occurrences import PAUSED, SCHEDULED
from app.services.calendar.window import Window
from app.services.scheduling import schedule

_EPSILON = timedelta(microseconds=1)
# A calendar that would list more future slots than this one by one is aggregated too, however
# few its jobs (the issue: "never computes more than 10,000 occurrences: beyond, it aggregates").
LISTED_AFTER = 10_000
_PENDING = ExecutionStatus.PENDING.value


@dataclass(frozen=True)
class Summary:
    """All visible jobs' entries in one local day (``hour`` None) or one hour of it."""

    day: date
    hour: int | None
    outcomes: dict[str, int]

    @property
    def upcoming(self) -> int:
        """Future slots (scheduled, and paused ones shown faded)."""
        return self.outcomes.get(SCHEDULED, 0) + self.outcomes.get(PAUSED, 0)

    @property
    def runs(self) -> int:
        """Past runs and gaps."""
        return sum(self.outcomes.values()) - self.upcoming

    @property
    def failed(self) -> int:
        """Failed or timed-out runs."""
        return sum(self.outcomes.get(status, 0) for status in FAILURE_STATUSES)

    @property
    def count(self) -> int:
        """Everything in the cell."""
        return sum(self.outcomes.values())


@dataclass
class Totals:
    """A window's summaries, and whether the occurrence budget cut the future short."""

    summaries: list[Summary] = field(default_factory=list)
    capped: bool = False


@dataclass(frozen=True)
class _Buckets:
    """Consecutive instants ``edges[i] .. edges[i+1]``, each labelled (local day, hour)."""

    edges: list[datetime]
    labels: list[tuple[date, int | None]]


def buckets(window: Window, by_hour: bool) -> _Buckets:
    """The window's local days, or each local hour (from the engine's wall-time rule, so a
    skipped hour is empty and a repeated one is one bucket of two hours, as the grid places)."""
    if not by_hour:
        starts = [begin for _day, begin, _end in window.bounds]
        return _Buckets([*starts, window.end], [(day, None) for day in window.days])
    edges: list[datetime] = []
    labels: list[tuple[date, int | None]] = []
    for day in window.days:
        for hour in range(24):
            instant = timemath.resolve_wall_time(datetime.combine(day, time(hour)), window.zone)
            if edges and instant <= edges[-1]:
                continue
            edges.append(instant)
            local = instant.astimezone(window.zone)
            labels.append((local.date(), local.hour))
    edges.append(window.end)
    return _Buckets(edges, labels)


def totals(
    session: DbSession,
    jobs: Select[Any],
    narrowed: bool,
    window: Window,
    now: datetime,
    outcome: str | None,
    by_hour: bool,
    budget: int,
) -> Totals:
    """Per-cell counts of the jobs ``jobs`` selects (``narrowed`` False: every job, so the
    runs need no job condition) by outcome, ``scheduled``/``paused`` for what is to come."""
    cells = buckets(window, by_hour)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    if outcome != SCHEDULED:
        for index, status, number in _past(session, jobs, narrowed, cells.edges, now, outcome):
            counts[index][status] += number
    capped = False
    if not outcome or outcome == SCHEDULED:
        capped = _future(session, jobs, window, cells.edges, now, budget, counts)
    merged: dict[tuple[date, int | None], Counter[str]] = defaultdict(Counter)
    for index, counter in counts.items():
        merged[cells.labels[index]] += counter
    summaries = [
        Summary(day, hour, dict(counter))
        for (day, hour), counter in sorted(merged.items(), key=lambda pair: _order(pair[0]))
        if counter
    ]
    return Totals(summaries, capped)


def listed(
    session: DbSession, jobs: Select[Any], window: Window, now: datetime, dense_after: int
) -> int:
    """How many future slots the per-job path would list one by one (schedules firing at most
    ``dense_after`` times on every day; busier ones are counted per day, not listed), counted
    once per distinct schedule; stops once past ``LISTED_AFTER``."""
    after, until = max(now, window.start - _EPSILON), window.end - _EPSILON
    if after >= until:
        return 0
    edges = buckets(window, by_hour=False).edges
    # More times than this means some day has more than ``dense_after``: counted, not listed.
    enough = dense_after * len(window.days) + 1
    total = 0
    for job, sharing in _schedules(session, jobs):
        if density.is_dense(job, dense_after):
            continue
        before, _computed, cut = _slots(job, window, (after, until), enough)
        if cut:
            continue
        at = [before(edge) for edge in edges]
        if max(high - low for low, high in pairwise(at)) <= dense_after:
            total += at[-1] * sharing
        if total > LISTED_AFTER:
            break
    return total


def _order(label: tuple[date, int | None]) -> tuple[date, int]:
    return label[0], -1 if label[1] is None else label[1]


# ---- the past: one GROUP BY over the window's runs ----------------------------------------


def _past(
    session: DbSession,
    jobs: Select[Any],
    narrowed: bool,
    edges: list[datetime],
    now: datetime,
    outcome: str | None,
) -> list[tuple[int, str, int]]:
    """(bucket, status, count) of the window's runs, a retried run once with the outcome
    of its last attempt: every row counted, less each row a retry points to."""
    postgres = session.get_bind().dialect.name == "postgresql"
    retry, parent = aliased(Execution), aliased(Execution)
    found: Counter[tuple[int, str]] = Counter()
    for table, sign, joined in ((Execution, 1, None), (parent, -1, retry)):
        index = _bucket(table, edges, postgres)
        query = select(index, table.status, func.count()).where(
            table.scheduled_for >= edges[0],
            table.scheduled_for < edges[-1],
            not_(and_(table.status == _PENDING, table.scheduled_for > now)),
        )
        if joined is not None:
            query = query.select_from(joined).join(table, table.id == joined.retry_of)
            query = query.where(joined.retry_of.is_not(None))
        if outcome:
            query = query.where(table.status == outcome)
        if narrowed:
            query = query.where(table.job_id.in_(jobs.with_only_columns(ScheduledJob.id)))
        for bucket, status, number in session.execute(query.group_by(index, table.status)):
            found[(int(bucket), str(status))] += sign * number
    return [(bucket, status, number) for (bucket, status), number in found.items() if number]


def _bucket(table: Any, edges: list[datetime], postgres: bool) -> Any:
    """The bucket a run falls in: ``width_bucket`` (a binary search) on PostgreSQL, a CASE
    over the same edges elsewhere (SQLite: the tests' small data)."""
    if postgres:
        thresholds = bindparam("edges", edges[:-1], type_=ARRAY(DateTime(timezone=True)))
        return (func.width_bucket(table.scheduled_for, thresholds) - 1).label("bucket")
    whens = [(table.scheduled_for < end, index) for index, end in enumerate(edges[1:])]
    return case(*whens, else_=len(edges) - 2).label("bucket")


# ---- the future: each distinct schedule once ----------------------------------------------


def _future(
    session: DbSession,
    jobs: Select[Any],
    window: Window,
    edges: list[datetime],
    now: datetime,
    budget: int,
    counts: dict[int, Counter[str]],
) -> bool:
    """Add each distinct schedule's slots per bucket, times the jobs sharing it; True if capped."""
    after, until = max(now, window.start - _EPSILON), window.end - _EPSILON
    if after >= until:
        return False
    scheduled, paused = [0] * (len(edges) - 1), [0] * (len(edges) - 1)
    capped = False
    for job, sharing in _schedules(session, jobs):
        if budget <= 0:
            capped = True
            break
        before, computed, cut = _slots(job, window, (after, until), budget)
        budget -= computed
        capped |= cut
        at = [before(edge) for edge in edges]
        held = _held(job, before, edges, at)
        for index in range(len(edges) - 1):
            total, faded = at[index + 1] - at[index], held[index + 1] - held[index]
            scheduled[index] += (total - faded) * sharing
            paused[index] += faded * sharing
    for index, (coming, waiting) in enumerate(zip(scheduled, paused, strict=True)):
        counts[index].update({key: n for key, n in ((SCHEDULED, coming), (PAUSED, waiting)) if n})
    return capped


def _held(
    job: ScheduledJob, before: Callable[[datetime], int], edges: list[datetime], at: list[int]
) -> list[int]:
    """Like ``at``, counting only slots before a paused job's resume time (shown faded)."""
    if not job.is_paused:
        return [0] * len(edges)
    if job.resume_at is None:
        return at
    resume = job.resume_at
    return [before(min(edge, resume)) for edge in edges]


def _schedules(session: DbSession, jobs: Select[Any]) -> list[tuple[ScheduledJob, int]]:
    """One job standing for each distinct schedule of the firing jobs, and how many share it."""
    interval = select(JobType.id).where(JobType.name == "interval").scalar_subquery()
    # An interval counts from its start date, else its creation (``schedule.anchor_of``).
    anchor = case(
        (
            and_(ScheduledJob.job_type_id == interval, ScheduledJob.start_date.is_(None)),
            ScheduledJob.created_at,
        )
    )
    spec = (
        ScheduledJob.job_type_id,
        cast(ScheduledJob.schedule_config, Text),
        ScheduledJob.timezone,
        ScheduledJob.start_date,
        ScheduledJob.end_date,
        ScheduledJob.is_paused,
        ScheduledJob.resume_at,
        anchor,
    )
    firing = and_(
        ScheduledJob.deleted_at.is_(None),
        ScheduledJob.is_enabled.is_(True),
        or_(ScheduledJob.is_paused.is_(True), ScheduledJob.status != JobStatus.FAILED.value),
    )
    standing = func.min(cast(ScheduledJob.id, String))
    query = jobs.with_only_columns(standing, func.count()).where(firing).group_by(*spec)
    rows = [(uuid.UUID(str(first)), int(number)) for first, number in session.execute(query)]
    loaded = {
        job.id: job
        for job in session.scalars(
            select(ScheduledJob).where(ScheduledJob.id.in_([first for first, _n in rows]))
        )
    }
    ordered = sorted(rows, key=lambda row: (loaded[row[0]].name.lower(), row[0]))
    return [(loaded[first], number) for first, number in ordered]


def _slots(
    job: ScheduledJob,
    window: Window,
    span: tuple[datetime, datetime],
    budget: int,
) -> tuple[Callable[[datetime], int], int, bool]:
    """One schedule's future slots as "how many fall before an instant", how many fire times
    the engine computed, and whether the budget cut them."""
    after, until = span
    trigger = schedule.trigger_of(job)
    if isinstance(trigger, timemath.IntervalTrigger):
        first = schedule.upcoming(job, after, 1, until)
        last = until if job.end_date is None else min(until, job.end_date)
        return _interval_before(first[0] if first else None, trigger.every, last), 1, False
    whole = (window.start - _EPSILON, until)
    if repeat.every_day(job, *whole):
        times, computed, capped = _whole_window(job, trigger, window, whole, budget)
        times = times[bisect_right(times, after) :]
    else:
        times = schedule.upcoming(job, after, budget + 1, until)
        capped = len(times) > budget
        times = times[:budget]
        computed = len(times)
    return partial(bisect_left, times), computed, capped


def _interval_before(
    head: datetime | None, every: timedelta, last: datetime
) -> Callable[[datetime], int]:
    """``head + k·every`` up to ``last`` (elapsed time, SPEC §4.1): how many before an instant."""
    if head is None or last < head:
        return lambda _instant: 0
    total = (last - head) // every + 1

    def before(instant: datetime) -> int:
        return 0 if instant <= head else min(total, -(-(instant - head) // every))

    return before


# An every-day rule's times over a whole window depend on the rule and the window only (not
# on ``now``): kept per process, so the next request for the same month skips croniter.
_WINDOW_TIMES: dict[tuple[object, ...], tuple[list[datetime], int, bool]] = {}
_WINDOW_TIMES_SIZE = 512


def _whole_window(
    job: ScheduledJob,
    trigger: timemath.Trigger,
    window: Window,
    whole: tuple[datetime, datetime],
    budget: int,
) -> tuple[list[datetime], int, bool]:
    """From the window's first day: one whole day from the engine, every later day with the
    same offsets moved from it (``repeat``); the times, how many computed, whether capped."""
    key: tuple[object, ...] = (trigger, job.timezone, job.start_date, job.end_date)
    key += (window.first, window.last, window.zone.key, budget)
    found = _WINDOW_TIMES.get(key)
    if found is None:
        times = repeat.day_times(job, window, whole, budget, 0)
        found = (times.times, times.computed, times.capped)
        if len(_WINDOW_TIMES) >= _WINDOW_TIMES_SIZE:
            _WINDOW_TIMES.clear()
        _WINDOW_TIMES[key] = found
    return found
