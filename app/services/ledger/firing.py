"""The scheduler's half of the ledger: arm each job's next slot, decide what a due slot becomes.

Every slot of a job is one Execution row, created (``pending``) when the slot
is armed. The unique (job_id, scheduled_for) index makes arming the same slot
twice impossible, and workers claim a row with a conditional update, so a
duplicate fire or a redelivered message is a logged no-op.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import DbSession
from app.models import (
    Execution,
    ExecutionStatus,
    ScheduledJob,
    TriggeredBy,
)
from app.services.batches import chunks
from app.services.ledger import misfire, overlap
from app.services.ledger.recurrence import Arm, Armed, rq_job_id
from app.services.ledger.slots import insert_slots, store_next_times
from app.services.scheduling import schedule


@dataclass
class Plan:
    """Redis work decided in a transaction, done only after it commits."""

    move: list[Armed] = field(default_factory=list)
    enqueue: list[Arm] = field(default_factory=list)
    arm: list[Arm] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    disarm: list[uuid.UUID] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    # Jobs whose next slot (after the given instant) must be planned.
    next: list[tuple[ScheduledJob, datetime]] = field(default_factory=list)
    # Slots moved out of rq-scheduler, to be marked queued (mark_moved).
    moved_ids: list[uuid.UUID] = field(default_factory=list)
    # (queue, seconds late) of every slot started, counted once the plan commits.
    fired: list[tuple[str, float]] = field(default_factory=list)
    # Tasks of runs closed as "worker lost", counted once the plan commits.
    lost: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        """Nothing for Redis to do and nothing to plan."""
        return not (self.move or self.enqueue or self.arm or self.drop or self.disarm or self.next)


def arm_of(job: ScheduledJob, execution: Execution) -> Arm:
    """How to arm or enqueue an execution: jitter delays, never advances."""
    assert execution.scheduled_for is not None
    return _arm(job, execution.id, execution.scheduled_for)


def _slot_row(
    job: ScheduledJob,
    slot: datetime,
    instance_id: uuid.UUID | None,
    created_at: datetime | None = None,
) -> Execution:
    row_id = uuid.uuid4()
    return Execution(
        id=row_id,
        rq_job_id=rq_job_id(row_id),
        job=job,
        status=ExecutionStatus.PENDING.value,
        scheduled_for=slot,
        triggered_by=TriggeredBy.SCHEDULER.value,
        scheduler_instance_id=instance_id,
        created_at=created_at,
    )


def plan_next(
    session: DbSession,
    job: ScheduledJob,
    after: datetime,
    instance_id: uuid.UUID | None,
    plan: Plan,
) -> Execution | None:
    """Create (or find) the pending row of the job's next slot after ``after`` and arm it."""
    while True:
        times = schedule.upcoming(job, after, 1) if job.is_schedulable else []
        job.next_run_time = times[0] if times else None
        if not times:
            return None
        existing = slot_at(session, job, times[0])
        if existing is None:
            row = _slot_row(job, times[0], instance_id)
            session.add(row)
            plan.arm.append(arm_of(job, row))
            return row
        if existing.status == ExecutionStatus.PENDING:
            plan.arm.append(arm_of(job, existing))
            return existing
        after = times[0]  # that slot already fired: the next one is due


def slot_at(session: DbSession, job: ScheduledJob, when: datetime) -> Execution | None:
    """The scheduler's row for the job's slot at ``when``, if it has one (at most one)."""
    return session.scalar(
        select(Execution).where(
            Execution.job_id == job.id,
            Execution.scheduled_for == when,
            Execution.triggered_by == TriggeredBy.SCHEDULER.value,
        )
    )


def plan_next_many(
    session: DbSession, instance_id: uuid.UUID | None, plan: Plan, now: datetime
) -> None:
    """Plan every job in ``plan.next``: one multi-row insert, then arm what was inserted.

    A slot whose row already exists (it fired before a restart, say) is
    resolved one job at a time by ``plan_next``; the bulk path keeps a cold
    start of 100,000 jobs to a few round trips.
    """
    pending, seen = [], set()
    for job, after in plan.next:
        key: Any = inspect(job).identity
        if key not in seen:
            seen.add(key)
            pending.append((job, after))
    plan.next = []
    _refresh(session, [job for job, _ in pending])
    rows, owners, next_times = [], {}, []
    for job, after in pending:
        times = schedule.upcoming(job, after, 1) if job.is_schedulable else []
        next_times.append({"id": job.id, "next_run_time": times[0] if times else None})
        # Written below in one executemany, not one ORM UPDATE per job.
        set_committed_value(job, "next_run_time", times[0] if times else None)
        if times:
            row_id = uuid.uuid4()
            owners[row_id] = (job, after, times[0])
            rows.append(_slot_values(row_id, job, times[0], instance_id, now))
    connection = session.connection()
    store_next_times(connection, next_times)
    inserted = insert_slots(connection, rows)
    for row_id, (job, after, slot) in owners.items():
        if row_id in inserted:
            plan.arm.append(_arm(job, row_id, slot))
        else:
            plan_next(session, job, after, instance_id, plan)
    if inserted:
        plan.counts["armed"] += len(inserted)


def _refresh(session: DbSession, jobs: list[ScheduledJob]) -> None:
    """Reload jobs expired by a commit in one query, not one query each."""
    keys: list[Any] = [inspect(job).identity for job in jobs if inspect(job).expired_attributes]
    ids = [key[0] for key in keys if key]
    for part in chunks(ids):
        session.scalars(
            select(ScheduledJob)
            .where(ScheduledJob.id.in_(part))
            .execution_options(populate_existing=True)
        ).all()


def _slot_values(
    row_id: uuid.UUID,
    job: ScheduledJob,
    slot: datetime,
    instance_id: uuid.UUID | None,
    now: datetime,
) -> dict[str, object]:
    return {
        "id": row_id,
        "rq_job_id": rq_job_id(row_id),
        "job_id": job.id,
        "status": ExecutionStatus.PENDING.value,
        "scheduled_for": slot,
        "triggered_by": TriggeredBy.SCHEDULER.value,
        "scheduler_instance_id": instance_id,
        "attempt": 1,
        "created_at": now,
    }


def _arm(job: ScheduledJob, row_id: uuid.UUID, slot: datetime) -> Arm:
    delay = random.randint(0, job.jitter_seconds) if job.jitter_seconds else 0
    return Arm(row_id, slot + timedelta(seconds=delay), job.effective_queue, job.timeout_seconds)


@dataclass
class Due:
    """A due slot: its row, and the rq-scheduler entry if it came from one."""

    execution: Execution
    entry: Armed | None = None


def fire(
    session: DbSession,
    due: Sequence[Due],
    now: datetime,
    instance_id: uuid.UUID | None,
    plan: Plan,
    *,
    run_all_cap: int = misfire.DEFAULT_RUN_ALL_CAP,
) -> None:
    """Decide what each due slot becomes; the jobs' next slots go to ``plan.next``.

    ``run_all_cap`` bounds how many missed slots a ``run_all`` job catches up.
    The caller marks the moved slots queued (``mark_moved``) before it commits:
    the scheduler does so after moving them, so their lateness does not wait
    for that update.
    """
    loads = overlap.loads(session, {d.execution.job_id: d.execution.job for d in due}.values())
    for item in due:
        row, job = item.execution, item.execution.job
        # A held row was decided already (it waits its turn): a late entry
        # for it (a reconcile that fired it first) must not decide it again.
        if row.status != ExecutionStatus.PENDING or row.held or not job.is_schedulable:
            _discard(session, item, plan)
            continue
        assert row.scheduled_for is not None
        deadline = row.scheduled_for + timedelta(
            seconds=job.jitter_seconds + job.misfire_grace_seconds
        )
        if now > deadline:
            _misfire(session, item, now, loads[job.id], instance_id, plan, run_all_cap)
            plan.next.append((job, now))
            continue
        _on_time(session, item, now, loads[job.id], plan, run_all_cap)
        plan.next.append((job, row.scheduled_for))


def _on_time(
    session: DbSession, item: Due, now: datetime, load: overlap.Load, plan: Plan, line_cap: int
) -> None:
    """A slot due now starts if its job has a free instance; else it is held or skipped.

    Decided here, when it falls due, counting the job's runs still queued as
    well as running: a busy pool must not pile up a backlog of runs the
    overlap policy would refuse. (A worker's claim checks again.)
    """
    row = item.execution
    assert row.scheduled_for is not None
    if load.may_start(row.scheduled_for):
        _start(item, now, plan)
        load.queued += 1
        return
    if item.entry is not None:
        plan.drop.append(item.entry.id)
    if overlap.wait_or_skip(session, row, load, now, line_cap=line_cap):
        load.held.append((row.scheduled_for, False))
        plan.counts["held"] += 1
    else:
        plan.counts["skipped"] += 1


def _discard(session: DbSession, item: Due, plan: Plan) -> None:
    """A slot that is no longer wanted (job paused, deleted, already handled)."""
    if item.entry is not None:
        plan.drop.append(item.entry.id)
    if item.execution.status == ExecutionStatus.PENDING and not overlap.is_held_row(item.execution):
        session.delete(item.execution)
    plan.counts["discarded"] += 1


def _start(item: Due, now: datetime, plan: Plan) -> None:
    """Send the slot to its queue: through rq-scheduler if armed there, else directly."""
    row = item.execution
    if item.entry is not None:
        # Marked queued in one conditional UPDATE (mark_moved), not by the ORM:
        # the move may happen before the commit, and a worker's claim must not
        # be overwritten by a late flush.
        set_committed_value(row, "status", ExecutionStatus.QUEUED.value)
        set_committed_value(row, "queued_at", now)
        plan.move.append(item.entry)
        plan.moved_ids.append(row.id)
    else:
        row.status = ExecutionStatus.QUEUED.value
        row.queued_at = now
        plan.enqueue.append(arm_of(row.job, row))
    plan.counts["fired"] += 1
    assert row.scheduled_for is not None
    plan.fired.append((row.job.effective_queue, (now - row.scheduled_for).total_seconds()))


def mark_moved(session: DbSession, plan: Plan, now: datetime) -> None:
    """Mark moved slots queued (only if still pending), holding their row locks to commit."""
    ids, plan.moved_ids = plan.moved_ids, []
    for part in chunks(ids):
        session.execute(
            update(Execution)
            .where(Execution.id.in_(part))
            .where(Execution.status == ExecutionStatus.PENDING.value)
            .values(status=ExecutionStatus.QUEUED.value, queued_at=now)
            .execution_options(synchronize_session=False)
        )


def _close(row: Execution, status: ExecutionStatus, now: datetime, reason: str) -> None:
    row.status = status.value
    row.reason = reason[:500]
    row.completed_at = now


def _misfire(
    session: DbSession,
    item: Due,
    now: datetime,
    load: overlap.Load,
    instance_id: uuid.UUID | None,
    plan: Plan,
    run_all_cap: int,
) -> None:
    """Slots missed while nothing ran: record them all, run per the misfire policy.

    Catch-up runs are recorded now (``created_at``), after their slots: that
    is what marks them catch-up runs (``overlap.is_catch_up``).
    """
    row, job = item.execution, item.execution.job
    assert row.scheduled_for is not None
    if item.entry is not None:
        plan.drop.append(item.entry.id)
    later = [
        t for t in schedule.upcoming(job, row.scheduled_for, misfire.MAX_MISSED_ROWS) if t <= now
    ]
    slots = [row.scheduled_for, *later]
    runs = set(misfire.slots_to_run(job, slots, run_all_cap))
    late = int((now - row.scheduled_for).total_seconds())
    reason = (
        f"missed: due {late}s ago, beyond the {job.misfire_grace_seconds}s grace "
        f"(scheduler not running?); misfire policy {job.misfire_policy}"
    )
    missed: list[Execution] = []
    for slot in slots:
        slot_row = row if slot == row.scheduled_for else _slot_row(job, slot, instance_id, now)
        if slot_row is not row:
            session.add(slot_row)
        if slot not in runs:
            _close(slot_row, ExecutionStatus.MISSED, now, reason)
            missed.append(slot_row)
            plan.counts["missed"] += 1
            continue
        caught_up = "catch-up run: " + reason.removeprefix("missed: ")
        if load.may_start(slot):
            slot_row.reason = caught_up[:500]
            _start(Due(slot_row), now, plan)
            load.queued += 1
        else:  # catch-up runs wait their turn, one after another
            overlap.hold(slot_row, f"{caught_up[:470]}; {overlap.HELD}")
            load.held.append((slot, True))
            plan.counts["held"] += 1
    misfire.announce_missed(session, missed, now)


def release_held(session: DbSession, now: datetime, plan: Plan) -> None:
    """Start held runs whose job has a free instance again, oldest first.

    Busy means running, or queued for an older slot: newer slots cannot
    overtake a held one (runs.claim), so they do not hold it back.
    """
    held = session.scalars(
        select(Execution)
        .where(
            Execution.status == ExecutionStatus.PENDING.value,
            overlap.is_held(),
            Execution.scheduled_for <= now,
        )
        .order_by(Execution.scheduled_for)
        .limit(1000)
    ).all()
    started: Counter[uuid.UUID] = Counter()
    for row in held:
        if not row.job.is_schedulable:
            session.delete(row)
        elif _busy(session, row) + started[row.job_id] < row.job.max_instances:
            overlap.release(row)
            _start(Due(row), now, plan)
            started[row.job_id] += 1


def _busy(session: DbSession, row: Execution) -> int:
    """Runs of the job that keep a held slot waiting."""
    older_queued = (Execution.status == ExecutionStatus.QUEUED.value) & (
        Execution.scheduled_for < row.scheduled_for
    )
    return (
        session.scalar(
            select(func.count()).where(
                Execution.job_id == row.job_id,
                (Execution.status == ExecutionStatus.RUNNING.value) | older_queued,
            )
        )
        or 0
    )
