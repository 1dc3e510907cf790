"""What the calendar shows in a window: past runs, future occurrences and the gaps.

Past: executions placed by ``scheduled_for`` (manual runs carry their start
there), retries folded into the run they retry. Future: the fire times the
scheduler itself will use (``schedule.upcoming``: the same function that arms
slots), so the grid can never disagree with what fires. Gaps: slots the ledger
recorded as skipped or missed, with their reason.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import DbSession
from app.models import (
    Execution,
    ExecutionStatus,
    JobStatus,
    ScheduledJob,
    TaskFunction,
    TriggeredBy,
    User,
)
from app.services import access
from app.services.calendar import aggregate, density, occurrences, run_counts
from app.services.calendar.window import Transition, Window, transitions
from app.services.paging import contains

# A request never computes more fire times than this (the cap), nor reads more runs.
MAX_OCCURRENCES = 10_000
MAX_RUNS = 10_000
SCHEDULED, PAUSED = occurrences.SCHEDULED, occurrences.PAUSED
OUTCOMES = (
    ExecutionStatus.SUCCESS.value,
    ExecutionStatus.FAILED.value,
    ExecutionStatus.TIMEOUT.value,
    ExecutionStatus.RUNNING.value,
    ExecutionStatus.SKIPPED.value,
    ExecutionStatus.MISSED.value,
    SCHEDULED,
)
_GAP_KINDS = {ExecutionStatus.SKIPPED.value: "skipped", ExecutionStatus.MISSED.value: "missed"}
_FIRING = (JobStatus.ACTIVE.value, JobStatus.PAUSED.value)


@dataclass(frozen=True)
class Filters:
    """What narrows the calendar: job search, task, outcome, owner (admins), queue."""

    q: str | None = None
    task: str | None = None
    outcome: str | None = None
    owner_id: uuid.UUID | None = None
    queue: str | None = None


@dataclass(frozen=True)
class Entry:
    """One thing on the grid: a run, a future occurrence, or a skipped or missed slot.

    ``status`` is the execution's (a retried run shows its last attempt's) or
    ``scheduled``/``paused`` for occurrences. ``shifted``/``repeated`` are the
    preview's DST flags.
    """

    kind: str
    job: ScheduledJob
    start: datetime
    status: str
    execution_id: uuid.UUID | None = None
    end: datetime | None = None
    reason: str | None = None
    manual: bool = False
    shifted: bool = False
    repeated: bool = False
    attempts: int = 1


@dataclass(frozen=True)
class Bar:
    """A job that fires more often than the view can show, collapsed for one local day."""

    job: ScheduledJob
    day: date
    count: int
    outcomes: dict[str, int]
    first: datetime


@dataclass
class CalendarData:
    """A window's entries and day bars, and whether a cap cut the work short."""

    window: Window
    entries: list[Entry] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    occurrences_capped: bool = False
    runs_capped: bool = False
    transitions: dict[date, Transition] = field(default_factory=dict)
    # Too many to draw one by one: entries and bars are the first few jobs' only, and
    # ``summaries`` hold every visible job's totals per day (or hour, ``by_hour``).
    aggregated: bool = False
    summaries: list[aggregate.Summary] = field(default_factory=list)

    @property
    def capped(self) -> bool:
        """True when a cap stopped the work: the view then says so."""
        return self.occurrences_capped or self.runs_capped


@dataclass(frozen=True)
class Aggregation:
    """When to aggregate: more than ``after`` visible jobs (or more future slots to list than
    ``aggregate.LISTED_AFTER``); then ``sample`` jobs (first by name) are still drawn one by
    one, and totals are per hour when ``by_hour``."""

    after: int
    by_hour: bool = False
    sample: int = 3


def calendar_window(
    session: DbSession,
    user: User,
    window: Window,
    filters: Filters,
    now: datetime,
    dense_after: int,
    aggregation: Aggregation | None = None,
) -> CalendarData:
    """Everything in ``window`` this user may see; a job with more than ``dense_after``
    entries on one day collapses into a ``Bar`` for that day. With more visible jobs than
    ``aggregation.after`` (or more slots to list than ``aggregate.LISTED_AFTER``), every job's
    totals per cell instead, and a few jobs drawn."""
    visible = _jobs_query(user, filters)
    if aggregation is not None and (
        _count(session, visible) > aggregation.after
        or aggregate.listed(session, visible, window, now, dense_after) > aggregate.LISTED_AFTER
    ):
        return _aggregated(session, user, window, filters, now, dense_after, aggregation)
    return _per_job(session, visible, window, filters, now, dense_after)


def _count(session: DbSession, visible: Select[ScheduledJob]) -> int:
    ids = visible.with_only_columns(ScheduledJob.id).subquery()
    return int(session.scalar(select(func.count()).select_from(ids)) or 0)


def _aggregated(
    session: DbSession,
    user: User,
    window: Window,
    filters: Filters,
    now: datetime,
    dense_after: int,
    aggregation: Aggregation,
) -> CalendarData:
    """The first ``sample`` jobs by name drawn as usual, and every visible job's totals."""
    visible = _jobs_query(user, filters)
    first = visible.order_by(ScheduledJob.name, ScheduledJob.id).limit(aggregation.sample)
    ids = list(session.scalars(first.with_only_columns(ScheduledJob.id)))
    data = _per_job(
        session,
        _jobs_query(user, filters).where(ScheduledJob.id.in_(ids)),
        window,
        filters,
        now,
        dense_after,
        past_dense=True,
    )
    narrowed = not access.sees_all(user) or any(
        (filters.q, filters.task, filters.queue, filters.owner_id)
    )
    found = aggregate.totals(
        session,
        visible,
        narrowed,
        window,
        now,
        filters.outcome,
        aggregation.by_hour,
        MAX_OCCURRENCES,
    )
    data.aggregated, data.summaries = True, found.summaries
    data.occurrences_capped |= found.capped
    return data


def _per_job(
    session: DbSession,
    visible: Select[ScheduledJob],
    window: Window,
    filters: Filters,
    now: datetime,
    dense_after: int,
    past_dense: bool = False,
) -> CalendarData:
    """Each job's entries and bars (the calendar of a few hundred jobs). ``past_dense``: a job
    with more than ``dense_after`` runs on a day of the window is drawn as bars too (its runs
    counted in SQL, not read one by one), whatever its future; for the aggregated view's few
    jobs, where one hot job's past month would otherwise be read row by row."""
    jobs = {job.id: job for job in session.scalars(visible)}
    firing = _firing(jobs.values())
    counted = [job for job in firing if density.is_dense(job, dense_after)]
    listed = [job for job in firing if job not in counted]
    found = occurrences.future(listed, window, now, dense_after, MAX_OCCURRENCES)
    # Jobs drawn as bars (dense interval jobs, and cron jobs counted per day): runs counted.
    counted_ids = [job.id for job in counted] + [job.id for job in found.dense_jobs]
    if past_dense and window.start < now:
        rest = [job_id for job_id in jobs if job_id not in counted_ids]
        counted_ids += run_counts.busy(session, rest, window, dense_after)
    runs, runs_capped = _runs(session, jobs, window, visible, counted_ids)
    runs, future = _one_per_slot(runs, _occurrence_entries(found), found.counts, now)
    entries = _outcome_filtered(runs + future, filters.outcome)
    data = CalendarData(window, occurrences_capped=found.capped, runs_capped=runs_capped)
    counts = _counts(counted, window, now, filters.outcome)
    if not filters.outcome or filters.outcome == SCHEDULED:
        counts |= found.counts
    for key, ran in run_counts.counted(session, jobs, counted_ids, window, now, filters.outcome):
        counts[key] = counts.get(key, Counter()) + ran
    data.entries, data.bars = _aggregate(entries, window, dense_after, counts)
    data.transitions = transitions(window)
    return data


def _one_per_slot(
    runs: list[Entry],
    future: list[Entry],
    counted: dict[tuple[ScheduledJob, date], Counter[str]],
    now: datetime,
) -> tuple[list[Entry], list[Entry]]:
    """A slot shows once: the armed next slot (a pending row) as its occurrence (listed or
    counted), a slot the ledger already settled (run, skipped, missed) as that record."""
    future_keys = {(e.job.id, e.start) for e in future}
    counted_jobs = {job.id for job, _day in counted}
    runs = [
        e
        for e in runs
        if not (
            e.status == "pending"
            and ((e.job.id, e.start) in future_keys or (e.job.id in counted_jobs and e.start > now))
        )
    ]
    settled = {(e.job.id, e.start) for e in runs if e.status != "pending"}
    return runs, [e for e in future if (e.job.id, e.start) not in settled]


def _jobs_query(user: User, filters: Filters) -> Select[ScheduledJob]:
    """Visible jobs (deleted ones too: their history stays on the grid) matching the filters."""
    query = select(ScheduledJob).where(access.job_condition(user))
    if filters.q:
        query = query.where(contains(ScheduledJob.name, filters.q))
    if filters.task or filters.queue:
        query = query.join(TaskFunction, ScheduledJob.task_function_id == TaskFunction.id)
    if filters.task:
        query = query.where(TaskFunction.name == filters.task)
    if filters.queue:
        query = query.where(func.coalesce(ScheduledJob.queue, TaskFunction.queue) == filters.queue)
    if filters.owner_id and access.sees_all(user):
        query = query.where(ScheduledJob.owner_id == filters.owner_id)
    return query


_RUN_COLUMNS = (
    Execution.id,
    Execution.job_id,
    Execution.status,
    Execution.scheduled_for,
    Execution.triggered_by,
    Execution.retry_of,
    Execution.attempt,
    Execution.reason,
    Execution.completed_at,
)


def _runs(
    session: DbSession,
    jobs: dict[uuid.UUID, ScheduledJob],
    window: Window,
    visible: Select[ScheduledJob],
    counted_ids: list[uuid.UUID],
) -> tuple[list[Entry], bool]:
    """The window's executions as entries, retries folded into the run they retry; runs of
    counted jobs are counted in SQL instead (``run_counts``), never read one by one."""
    if not jobs:
        return [], False
    job_ids = visible.with_only_columns(ScheduledJob.id)
    query = (
        select(*_RUN_COLUMNS)
        .where(Execution.job_id.in_(job_ids))
        .where(Execution.job_id.not_in(counted_ids))
        .where(Execution.scheduled_for >= window.start, Execution.scheduled_for < window.end)
        .order_by(Execution.scheduled_for, Execution.attempt)
        .limit(MAX_RUNS + 1)
    )
    rows = session.execute(query).all()
    capped = len(rows) > MAX_RUNS
    entries: dict[uuid.UUID, Entry] = {}
    root_of: dict[uuid.UUID, uuid.UUID] = {}
    for row in rows[:MAX_RUNS]:
        root = root_of.get(row.retry_of) if row.retry_of is not None else None
        if root is not None and root in entries:
            root_of[row.id] = root
            entries[root] = _folded(entries[root], row.status, row.attempt)
            continue
        root_of[row.id] = row.id
        entries[row.id] = _run_entry(jobs[row.job_id], row)
    return list(entries.values()), capped


def _run_entry(job: ScheduledJob, row: Any) -> Entry:
    status = str(row.status)
    return Entry(
        kind=_GAP_KINDS.get(status, "run"),
        job=job,
        start=row.scheduled_for,
        end=row.completed_at,
        status=status,
        execution_id=row.id,
        reason=row.reason,
        manual=row.triggered_by in (TriggeredBy.MANUAL, TriggeredBy.API),
        attempts=int(row.attempt or 1),
    )


def _folded(run: Entry, status: str, attempt: int) -> Entry:
    """A retry is one more attempt of its run: the run shows the latest attempt's outcome."""
    if attempt < run.attempts:
        return run
    return replace(run, status=status, attempts=attempt)


def _firing(jobs: Iterable[ScheduledJob]) -> list[ScheduledJob]:
    """Jobs that will fire: live, enabled, active or paused (paused slots show faded)."""
    return [j for j in jobs if j.deleted_at is None and j.derive_status() in _FIRING]


def _occurrence_entries(found: occurrences.Future) -> list[Entry]:
    """Entries for listed fire times, with their DST flags and paused-until-resume state."""
    entries = []
    for job, moment, flags in found.listed:
        paused = occurrences.paused_at(job, moment)
        entries.append(
            Entry(
                kind="occurrence",
                job=job,
                start=moment,
                status=PAUSED if paused else SCHEDULED,
                shifted=flags.shifted,
                repeated=flags.repeated,
            )
        )
    return entries


def _counts(
    jobs: list[ScheduledJob], window: Window, now: datetime, outcome: str | None
) -> dict[tuple[ScheduledJob, date], Counter[str]]:
    """Per-day slot counts of frequent interval jobs (counted, not listed)."""
    if outcome and outcome != SCHEDULED:
        return {}
    return {
        (job, day): counter
        for job in jobs
        for day, counter in density.day_counts(job, window, now, PAUSED, SCHEDULED).items()
    }


def _outcome_filtered(entries: list[Entry], outcome: str | None) -> list[Entry]:
    """Entries whose outcome (or ``scheduled`` for what is still to come) matches."""
    if not outcome:
        return entries
    if outcome == SCHEDULED:
        return [e for e in entries if e.kind == "occurrence"]
    return [e for e in entries if e.kind != "occurrence" and e.status == outcome]


def _aggregate(
    entries: list[Entry],
    window: Window,
    dense_after: int,
    counts: dict[tuple[ScheduledJob, date], Counter[str]],
) -> tuple[list[Entry], list[Bar]]:
    """Collapse each (job, local day) with more than ``dense_after`` entries into one bar;
    days of counted jobs are bars already (their past runs join the count)."""
    groups: dict[tuple[ScheduledJob, date], list[Entry]] = defaultdict(list)
    for entry in entries:
        groups[(entry.job, window.day_of(entry.start))].append(entry)
    kept: list[Entry] = []
    bars: list[Bar] = []
    for key, group in groups.items():
        if key not in counts and len(group) <= dense_after:
            kept += group
            continue
        outcomes = Counter(e.status for e in group) + counts.get(key, Counter())
        first = min(e.start for e in group)
        bars.append(Bar(key[0], key[1], sum(outcomes.values()), dict(outcomes), first))
    # Days of counted jobs with no run recorded: the count as it is (most of a big grid).
    for (job, day), counted in counts.items():
        if (job, day) not in groups:
            start = window.bounds_of(day)
            bars.append(Bar(job, day, sum(counted.values()), dict(counted), start))
    names = {job: job.name.lower() for job in {e.job for e in kept} | {b.job for b in bars}}
    kept.sort(key=lambda e: (e.start, names[e.job]))
    bars.sort(key=lambda b: (b.day, names[b.job]))
    return kept, bars


def queue_names(session: DbSession, user: User) -> list[str]:
    """The queues of the jobs this user may see, for the queue filter."""
    name = func.coalesce(ScheduledJob.queue, TaskFunction.queue)
    query = (
        select(name)
        .select_from(ScheduledJob)
        .join(TaskFunction, ScheduledJob.task_function_id == TaskFunction.id)
        .where(ScheduledJob.deleted_at.is_(None), access.job_condition(user))
        .distinct()
        .order_by(name)
    )
    return [str(queue) for queue in session.scalars(query)]
