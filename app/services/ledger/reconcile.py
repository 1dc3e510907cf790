"""Make Redis match the database, and sweep what went wrong while nobody looked.

Runs on scheduler start and every RECONCILE_SECONDS: every schedulable job
gets exactly one armed slot; entries of paused, disabled or deleted jobs go;
overdue slots fire (misfire policy applies); runs whose worker died are
closed; runs lost from a flushed queue are re-enqueued; retries that found
no free instance for too long are given up (dead).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.extensions import DbSession
from app.models import (
    Execution,
    ExecutionStatus,
    InstanceRole,
    JobStatus,
    ScheduledJob,
    SchedulerInstance,
    TriggeredBy,
)
from app.services.batches import chunks
from app.services.failures import retries
from app.services.ledger import firing, instances, misfire, overlap, runs
from app.services.ledger.firing import Due, Plan
from app.services.ledger.recurrence import Arm, Recurrence, execution_id_of, rq_job_id
from app.services.scheduling import schedule

# A queued run whose RQ job vanished is re-enqueued once it is this old: long
# enough for another process's commit-then-enqueue (a duplicate would be a
# no-op claim anyway), short because a lost queued run holds its job's next
# slots back (they are skipped while it counts as queued).
REQUEUE_AFTER = timedelta(seconds=2)
# A due retry that found no free instance for this long goes dead (RETRY_WAIT_LIMIT_SECONDS).
DEFAULT_RETRY_WAIT_LIMIT = timedelta(hours=1)


@dataclass
class Report:
    """What one pass changed."""

    counts: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line for logs and `flask reconcile`."""
        if not self.counts:
            return "nothing to change"
        return ", ".join(f"{what}: {n}" for what, n in sorted(self.counts.items()))


def auto_resume(session: DbSession, now: datetime, plan: Plan) -> list[ScheduledJob]:
    """Paused jobs whose resume time has come are resumed."""
    resumed = list(
        session.scalars(
            select(ScheduledJob).where(
                ScheduledJob.deleted_at.is_(None),
                ScheduledJob.is_paused,
                ScheduledJob.resume_at.is_not(None),
                ScheduledJob.resume_at <= now,
            )
        )
    )
    for job in resumed:
        job.is_paused = False
        job.paused_reason = None
        job.resume_at = None
        job.status = job.derive_status()
        plan.counts["resumed"] += 1
    return resumed


def sync_job(
    session: DbSession,
    job: ScheduledJob,
    slots: list[Execution],
    armed: set[str],
    now: datetime,
    instance_id: uuid.UUID | None,
    plan: Plan,
    due: list[Due],
) -> None:
    """Bring one job's armed slot in line with its definition."""
    if not job.is_schedulable:
        for row in slots:
            plan.disarm.append(row.id)
            session.delete(row)
            plan.counts["disarmed"] += 1
        job.next_run_time = None
        return
    slots.sort(key=lambda r: r.scheduled_for or now)
    keep = slots[0] if slots else None
    for extra in slots[1:]:
        plan.disarm.append(extra.id)
        session.delete(extra)
        plan.counts["disarmed"] += 1
    if keep is not None and keep.scheduled_for is not None and keep.scheduled_for <= now:
        if rq_job_id(keep.id) not in armed:
            due.append(Due(keep))  # overdue and unarmed (e.g. Redis flushed): fire it now
        return
    if keep is not None and keep.scheduled_for in schedule.upcoming(job, now, 1):
        job.next_run_time = keep.scheduled_for
        if rq_job_id(keep.id) not in armed:
            plan.arm.append(firing.arm_of(job, keep))
            plan.counts["armed"] += 1
        return
    if keep is not None:  # the schedule changed under it
        plan.disarm.append(keep.id)
        session.delete(keep)
        session.flush()
        plan.counts["re-armed"] += 1
    plan.next.append((job, _continue_from(session, job, now)))


def _continue_from(session: DbSession, job: ScheduledJob, now: datetime) -> datetime:
    """Where a job without an armed slot counts its next slot from.

    Normally now. But ``next_run_time`` is written with the slot it arms, so
    a past value whose slot already fired means the pass that fired it failed
    (a deadlock, a crash) before planning the successor: continue from that
    slot, and the slots since are run late or recorded missed, never skipped
    without a trace.
    """
    last = job.next_run_time
    if last is None or last > now:
        return now
    return last if firing.slot_at(session, job, last) is not None else now


def reconcile(
    session: DbSession,
    recurrence: Recurrence,
    now: datetime,
    instance_id: uuid.UUID | None,
    worker_lost_after: timedelta = timedelta(seconds=60),
    *,
    full: bool = True,
    max_abandoned: int = retries.DEFAULT_MAX_ABANDONED,
    run_all_cap: int = misfire.DEFAULT_RUN_ALL_CAP,
    retry_wait_limit: timedelta = DEFAULT_RETRY_WAIT_LIMIT,
) -> tuple[Plan, Report]:
    """One pass; the caller fences, commits, then carries out the plan.

    With ``full=False`` the per-job scan is skipped when three counts agree
    (armed entries, armed slots, schedulable jobs): a steady state costs three
    cheap queries, so a pass never holds up firing. Any drift (a flushed
    Redis, a stray entry, a slot left by a paused job) makes them disagree.

    The steady state is checked on plain tuples: a schedulable job whose one
    armed slot is its stored next run needs nothing, so an idle pass over
    10,000 jobs computes no schedule. Jobs that need work are handled in
    chunks, with the session cleared between them, so a cold start of 100,000
    jobs stays within a bounded memory.
    """
    plan, report = Plan(), Report()
    if auto_resume(session, now, plan):
        full = True
    session.flush()
    if full or not _counts_agree(session, recurrence):
        _sync_all(session, recurrence, now, instance_id, plan, run_all_cap)
    firing.release_held(session, now, plan)
    _requeue_lost(session, recurrence, now, plan)
    _sweep_abandoned(session, now, worker_lost_after, plan, max_abandoned)
    if given_up := retries.give_up_waiting(session, now, retry_wait_limit):
        plan.counts["retries given up"] += given_up
    report.counts.update(plan.counts)
    return plan, report


def _counts_agree(session: DbSession, recurrence: Recurrence) -> bool:
    """Armed entries, armed slots and schedulable jobs are equally many."""
    slots = session.scalar(
        select(func.count()).where(
            Execution.status == ExecutionStatus.PENDING.value,
            Execution.triggered_by == TriggeredBy.SCHEDULER.value,
            ~overlap.is_held(),
        )
    )
    jobs = session.scalar(
        select(func.count()).where(
            ScheduledJob.deleted_at.is_(None),
            ScheduledJob.is_enabled,
            ~ScheduledJob.is_paused,
            ScheduledJob.status != JobStatus.FAILED.value,
            ScheduledJob.next_run_time.is_not(None),
        )
    )
    return slots == jobs == recurrence.armed_count()


def _sync_all(
    session: DbSession,
    recurrence: Recurrence,
    now: datetime,
    instance_id: uuid.UUID | None,
    plan: Plan,
    run_all_cap: int,
) -> None:
    """Check every job cheaply, treat those that need it, drop stray entries."""
    armed = set(recurrence.armed())
    slots = _slot_index(session)
    attention = _needing_attention(session, slots, armed)
    for chunk in chunks(attention, _CHUNK):
        slot_ids = [slot_id for job_id in chunk for slot_id, _ in slots.get(job_id, [])]
        _sync_chunk(session, chunk, slot_ids, armed, now, instance_id, plan, run_all_cap)
    gone = set(plan.disarm)
    wanted = {rq_job_id(a.execution_id) for a in plan.arm} | {
        rq_job_id(slot_id) for rows in slots.values() for slot_id, _ in rows if slot_id not in gone
    }
    for entry in armed - wanted:
        if execution_id_of(entry) is not None:
            plan.drop.append(entry)
            plan.counts["dropped"] += 1


_CHUNK = 2000
_Slot = tuple[uuid.UUID, datetime | None]


def _slot_index(session: DbSession) -> dict[uuid.UUID, list[_Slot]]:
    """Armed (pending, not held) scheduler slots by job, as plain tuples."""
    rows = session.execute(
        select(Execution.id, Execution.job_id, Execution.scheduled_for).where(
            Execution.status == ExecutionStatus.PENDING.value,
            Execution.triggered_by == TriggeredBy.SCHEDULER.value,
            ~overlap.is_held(),
        )
    )
    index: dict[uuid.UUID, list[_Slot]] = defaultdict(list)
    for slot_id, job_id, scheduled_for in rows:
        index[job_id].append((slot_id, scheduled_for))
    return index


def _needing_attention(
    session: DbSession,
    slots: dict[uuid.UUID, list[_Slot]],
    armed: set[str],
) -> list[uuid.UUID]:
    """Jobs whose armed state is not simply right (cheap: no schedule is computed)."""
    columns = select(
        ScheduledJob.id,
        ScheduledJob.next_run_time,
        ScheduledJob.deleted_at.is_(None) & ScheduledJob.is_enabled & ~ScheduledJob.is_paused,
        ScheduledJob.status,
    )
    attention = []
    for job_id, next_run, live, status in session.execute(columns):
        rows = slots.get(job_id, [])
        schedulable = bool(live) and status != JobStatus.FAILED
        settled = (
            len(rows) == 1 and rows[0][1] == next_run and rq_job_id(rows[0][0]) in armed
            if schedulable
            else not rows
        )
        if not settled:
            attention.append(job_id)
    return attention


def sync_jobs(
    session: DbSession,
    recurrence: Recurrence,
    job_ids: list[uuid.UUID],
    now: datetime,
    instance_id: uuid.UUID | None,
    plan: Plan,
    run_all_cap: int = misfire.DEFAULT_RUN_ALL_CAP,
) -> None:
    """Re-sync a few jobs at once (edited, paused, resumed, deleted since the last pass)."""
    slot_ids = list(
        session.scalars(
            select(Execution.id).where(
                Execution.job_id.in_(job_ids),
                Execution.status == ExecutionStatus.PENDING.value,
                Execution.triggered_by == TriggeredBy.SCHEDULER.value,
                ~overlap.is_held(),
            )
        )
    )
    armed = {rq_job_id(i) for i in slot_ids if recurrence.is_armed(rq_job_id(i))}
    _sync_chunk(session, job_ids, slot_ids, armed, now, instance_id, plan, run_all_cap)


def _sync_chunk(
    session: DbSession,
    job_ids: list[uuid.UUID],
    slot_ids: list[uuid.UUID],
    armed: set[str],
    now: datetime,
    instance_id: uuid.UUID | None,
    plan: Plan,
    run_all_cap: int,
) -> None:
    """Full treatment for some jobs, then let the session forget what it loaded."""
    known = set(session.identity_map.keys())
    if slot_ids:  # runs may be touched: the job rows first, as workers lock them
        runs.lock_jobs(session, job_ids)
    jobs = session.scalars(select(ScheduledJob).where(ScheduledJob.id.in_(job_ids))).all()
    pending: dict[uuid.UUID, list[Execution]] = defaultdict(list)
    if slot_ids:  # by primary key: the index of pending slots says which exist
        for row in session.scalars(select(Execution).where(Execution.id.in_(slot_ids))):
            pending[row.job_id].append(row)
    due: list[Due] = []
    for job in jobs:
        sync_job(session, job, pending.pop(job.id, []), armed, now, instance_id, plan, due)
    session.flush()
    if due:
        firing.fire(session, due, now, instance_id, plan, run_all_cap=run_all_cap)
        firing.mark_moved(session, plan, now)
    firing.plan_next_many(session, instance_id, plan, now)
    session.flush()
    for key in set(session.identity_map.keys()) - known:
        obj = session.identity_map.get(key)
        if obj is not None:
            session.expunge(obj)


def _requeue_lost(session: DbSession, recurrence: Recurrence, now: datetime, plan: Plan) -> None:
    """Queued runs RQ no longer means to run (a flushed Redis, a failed claim) go again."""
    queued = session.scalars(
        select(Execution).where(
            Execution.status == ExecutionStatus.QUEUED.value,
            Execution.queued_at < now - REQUEUE_AFTER,
        )
    ).all()
    for row in queued:
        if not recurrence.job_waiting(row.id):
            plan.enqueue.append(Arm(row.id, now, row.job.effective_queue, row.job.timeout_seconds))
            plan.counts["requeued"] += 1


def _sweep_abandoned(
    session: DbSession, now: datetime, lost_after: timedelta, plan: Plan, max_abandoned: int
) -> None:
    """Runs whose worker stopped beating are closed as failed ("worker lost"), then retried."""
    live = {
        instances.worker_name(i.hostname, i.pid)
        for i in session.scalars(
            select(SchedulerInstance).where(
                SchedulerInstance.role == InstanceRole.WORKER.value,
                SchedulerInstance.stopped_at.is_(None),
                SchedulerInstance.last_heartbeat >= now - lost_after,
            )
        )
    }
    running = session.scalars(
        select(Execution).where(
            Execution.status == ExecutionStatus.RUNNING.value,
            Execution.started_at < now - lost_after,
        )
    ).all()
    for row in running:
        if row.worker_name not in live:
            reason = f"worker lost: {row.worker_name} stopped beating"
            runs.fail_lost(session, row, reason, now, max_abandoned)
            plan.counts["worker lost"] += 1
            plan.lost.append(row.job.task_function.name)


__all__ = ["Report", "reconcile", "sync_job"]
