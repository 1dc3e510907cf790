"""Make Redis match the database, and sweep what went wrong while nobody looked.

Runs on scheduler start and every RECONCILE_SECONDS: every schedulable job
gets exactly one armed slot; entries of paused, disabled or deleted jobs go;
overdue slots fire (misfire policy applies); runs whose worker died are
closed; runs lost from a flushed queue are re-enqueued.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from app.extensions import DbSession
from app.models import (
    Execution,
    ExecutionStatus,
    InstanceRole,
    ScheduledJob,
    SchedulerInstance,
    TriggeredBy,
)
from app.services import firing, runs, schedule
from app.services.firing import Due, Plan, is_held
from app.services.recurrence import Arm, Recurrence, execution_id_of, rq_job_id

REQUEUE_AFTER = timedelta(seconds=10)


@dataclass
class Report:
    """What one pass changed."""

    counts: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line for logs and `flask reconcile`."""
        if not self.counts:
            return "nothing to change"
        return ", ".join(f"{what}: {n}" for what, n in sorted(self.counts.items()))


def _pending_slots(session: DbSession) -> dict[uuid.UUID, list[Execution]]:
    """Armed (pending, not held) scheduler slots by job."""
    rows = session.scalars(
        select(Execution).where(
            Execution.status == ExecutionStatus.PENDING.value,
            Execution.triggered_by == TriggeredBy.SCHEDULER.value,
            (Execution.reason.is_(None)) | ~is_held(),
        )
    )
    by_job: dict[uuid.UUID, list[Execution]] = defaultdict(list)
    for row in rows:
        by_job[row.job_id].append(row)
    return by_job


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
    wanted = schedule.upcoming(job, now, 1)
    keep = slots[0] if slots else None
    for extra in slots[1:]:
        plan.disarm.append(extra.id)
        session.delete(extra)
        plan.counts["disarmed"] += 1
    if keep is not None and keep.scheduled_for is not None and keep.scheduled_for <= now:
        if rq_job_id(keep.id) not in armed:
            due.append(Due(keep))  # overdue and unarmed (e.g. Redis flushed): fire it now
        return
    if keep is not None and wanted and keep.scheduled_for == wanted[0]:
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
    before = len(plan.arm)
    firing.plan_next(session, job, now, instance_id, plan)
    plan.counts["armed"] += len(plan.arm) - before


def reconcile(
    session: DbSession,
    recurrence: Recurrence,
    now: datetime,
    instance_id: uuid.UUID | None,
    worker_lost_after: timedelta = timedelta(seconds=60),
) -> tuple[Plan, Report]:
    """One full pass; the caller fences, commits, then carries out the plan."""
    plan, report = Plan(), Report()
    auto_resume(session, now, plan)
    armed = set(recurrence.armed())
    slots = _pending_slots(session)
    jobs = session.scalars(
        select(ScheduledJob).where(
            (ScheduledJob.id.in_(list(slots))) | (ScheduledJob.deleted_at.is_(None))
        )
    ).all()
    due: list[Due] = []
    for job in jobs:
        sync_job(session, job, slots.pop(job.id, []), armed, now, instance_id, plan, due)
    wanted = {rq_job_id(a.execution_id) for a in plan.arm} | {
        rq_job_id(row.id) for rows in _pending_slots(session).values() for row in rows
    }
    for entry in armed - wanted:
        if execution_id_of(entry) is not None:
            plan.drop.append(entry)
            plan.counts["dropped"] += 1
    session.flush()
    if due:
        firing.fire(session, due, now, instance_id, plan)
    firing.release_held(session, now, plan)
    _requeue_lost(session, recurrence, now, plan)
    _sweep_abandoned(session, now, worker_lost_after, plan)
    report.counts.update(plan.counts)
    return plan, report


def _requeue_lost(session: DbSession, recurrence: Recurrence, now: datetime, plan: Plan) -> None:
    """Queued runs whose RQ job vanished (a flushed Redis) are queued again."""
    queued = session.scalars(
        select(Execution).where(
            Execution.status == ExecutionStatus.QUEUED.value,
            Execution.queued_at < now - REQUEUE_AFTER,
        )
    ).all()
    for row in queued:
        if not recurrence.job_exists(row.id):
            plan.enqueue.append(Arm(row.id, now, row.job.effective_queue, row.job.timeout_seconds))
            plan.counts["requeued"] += 1


def _sweep_abandoned(session: DbSession, now: datetime, lost_after: timedelta, plan: Plan) -> None:
    """Runs whose worker stopped beating are closed as failed ("worker lost")."""
    live = {
        f"{i.hostname}:{i.pid}"
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
            runs.fail_lost(session, row, f"worker lost: {row.worker_name} stopped beating", now)
            plan.counts["worker lost"] += 1


__all__ = ["Report", "reconcile", "sync_job"]
