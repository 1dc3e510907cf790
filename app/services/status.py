"""What is known about the cluster: processes, leader, counts, queues.

Counts and the next job cover only what the asking user may see (``access``):
an editor learns nothing about other people's jobs here. Processes, the
leader and queue depths are the cluster's own and shown to everyone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import ColumnElement, func, select

from app.extensions import DbSession
from app.models import (
    DeliveryStatus,
    Execution,
    ExecutionStatus,
    JobStatus,
    LeaderLease,
    RetryItem,
    RetryStatus,
    ScheduledJob,
    SchedulerInstance,
    TaskFunction,
    User,
    Webhook,
    WebhookDelivery,
)
from app.services import access
from app.services.ledger.recurrence import WEBHOOK_QUEUE

LEASE_NAME = "scheduler"
WAITING_TOP = 10


@dataclass
class ClusterStatus:
    """A snapshot for /status and the status page."""

    instances: list[SchedulerInstance]
    leader: SchedulerInstance | None
    lease_expires_at: datetime | None
    job_counts: dict[str, int]
    running_jobs: int
    execution_counts: dict[str, int]
    next_job: ScheduledJob | None
    retry_counts: dict[str, int] = field(default_factory=dict)
    delivery_counts: dict[str, int] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)
    redis: dict[str, str | bool] = field(default_factory=dict)
    # A saturated pool: how long the oldest queued run of each queue has waited
    # (seconds), and the jobs with the most runs waiting (queued or held).
    queue_ages: dict[str, float] = field(default_factory=dict)
    waiting: list[WaitingRuns] = field(default_factory=list)
    # The leader's fencing token (grows at every change of holder); None without a leader.
    lease_token: int | None = None


@dataclass(frozen=True)
class WaitingRuns:
    """One job's runs waiting for a worker (queued) or for a free instance (held)."""

    job_id: uuid.UUID
    name: str
    queued: int
    held: int


def cluster_status(
    session: DbSession, user: User, now: datetime, redis: Redis | None, *, all_time: bool = True
) -> ClusterStatus:
    """Gather the status snapshot as ``user`` may see it (``redis`` None: not asked).

    ``all_time`` False leaves out the all-time run counts (a count over the whole
    history): the status page shows the last hour instead and must stay quick.
    """
    instances = list(
        session.scalars(
            select(SchedulerInstance)
            .where(SchedulerInstance.stopped_at.is_(None))
            .order_by(SchedulerInstance.role, SchedulerInstance.started_at)
        )
    )
    lease = session.get(LeaderLease, LEASE_NAME)
    live_lease = lease if lease and lease.expires_at and lease.expires_at > now else None
    leader = next((i for i in instances if live_lease and i.id == live_lease.holder_id), None)
    job_counts, job_queues = _jobs_by_status_and_queue(session, user)
    status = ClusterStatus(
        instances=instances,
        leader=leader,
        lease_expires_at=live_lease.expires_at if live_lease else None,
        job_counts=job_counts,
        running_jobs=_running_jobs(session, user),
        execution_counts=(
            _counts(session, Execution.status, ExecutionStatus, _of_jobs(user)) if all_time else {}
        ),
        next_job=_next_job(session, user),
        retry_counts=_counts(session, RetryItem.status, RetryStatus, _of_jobs(user, RetryItem)),
        delivery_counts=_counts(
            session, WebhookDelivery.status, DeliveryStatus, _of_webhooks(user)
        ),
        queue_ages=_queue_ages(session, now),
        waiting=_waiting(session, user),
        lease_token=live_lease.token if live_lease else None,
    )
    if redis is not None:
        _queue_depths(session, redis, status, job_queues)
    return status


def _of_jobs(user: User, model: Any = Execution) -> ColumnElement[bool] | None:
    """SQL: the row (an execution or retry item) belongs to a job the user may see."""
    if access.sees_all(user):
        return None
    return model.job_id.in_(access.visible_job_ids(user))  # type: ignore[no-any-return]


def _of_webhooks(user: User) -> ColumnElement[bool] | None:
    """SQL: the delivery belongs to a webhook the user may see."""
    if access.sees_all(user):
        return None
    visible = select(Webhook.id).where(access.webhook_condition(user))
    return WebhookDelivery.webhook_id.in_(visible)


def _jobs_by_status_and_queue(session: DbSession, user: User) -> tuple[dict[str, int], set[str]]:
    """Live jobs the user sees, per status; and every queue any job names (for the depths).

    One pass over the jobs for both: on 100,000 jobs each pass is a sequential
    scan, the dearest part of the status page (docs/PERFORMANCE.md).
    """
    counted = ScheduledJob.deleted_at.is_(None) & access.job_condition(user)
    rows = session.execute(
        select(ScheduledJob.status, ScheduledJob.queue, counted, func.count()).group_by(
            ScheduledJob.status, ScheduledJob.queue, counted
        )
    ).all()
    counts = {s.value: 0 for s in JobStatus}
    for status, _queue, is_counted, count in rows:
        if is_counted:
            counts[status] = counts.get(status, 0) + count
    counts["total"] = sum(counts.values())
    return counts, {queue for _status, queue, _counted, _count in rows if queue}


def _running_jobs(session: DbSession, user: User) -> int:
    query = select(func.count(func.distinct(Execution.job_id))).where(
        Execution.status == ExecutionStatus.RUNNING.value
    )
    condition = _of_jobs(user)
    return session.scalar(query if condition is None else query.where(condition)) or 0


def _counts(
    session: DbSession,
    column: Any,
    statuses: Iterable[StrEnum],
    condition: ColumnElement[bool] | None = None,
) -> dict[str, int]:
    """Rows per status (every status listed, zero included)."""
    query = select(column, func.count()).group_by(column)
    rows = session.execute(query if condition is None else query.where(condition)).all()
    return {s.value: 0 for s in statuses} | {status: count for status, count in rows}


def _next_job(session: DbSession, user: User) -> ScheduledJob | None:
    return session.scalar(
        access.visible_jobs(user)
        .where(
            ScheduledJob.status == JobStatus.ACTIVE.value,
            ScheduledJob.next_run_time.is_not(None),
        )
        .order_by(ScheduledJob.next_run_time)
        .limit(1)
    )


def _queue_ages(session: DbSession, now: datetime) -> dict[str, float]:
    """Seconds the oldest queued run of each queue has waited (queues with none left out)."""
    queue = func.coalesce(ScheduledJob.queue, TaskFunction.queue)
    rows = session.execute(
        select(queue, func.min(Execution.queued_at))
        .join(ScheduledJob, ScheduledJob.id == Execution.job_id)
        .join(TaskFunction, TaskFunction.id == ScheduledJob.task_function_id)
        .where(Execution.status == ExecutionStatus.QUEUED.value)
        .group_by(queue)
    ).all()
    return {
        name: round(max((now - oldest).total_seconds(), 0.0), 3)
        for name, oldest in rows
        if oldest is not None
    }


def _waiting(session: DbSession, user: User) -> list[WaitingRuns]:
    """The jobs with the most runs waiting, most first (at most WAITING_TOP)."""
    queued = func.count().filter(Execution.status == ExecutionStatus.QUEUED.value)
    held = func.count().filter(Execution.status == ExecutionStatus.PENDING.value, Execution.held)
    query = (
        select(Execution.job_id, ScheduledJob.name, queued, held)
        .join(ScheduledJob, ScheduledJob.id == Execution.job_id)
        .where(
            (Execution.status == ExecutionStatus.QUEUED.value)
            | ((Execution.status == ExecutionStatus.PENDING.value) & Execution.held)
        )
        .group_by(Execution.job_id, ScheduledJob.name)
        .order_by((queued + held).desc(), ScheduledJob.name)
        .limit(WAITING_TOP)
    )
    condition = _of_jobs(user)
    rows = session.execute(query if condition is None else query.where(condition)).all()
    return [WaitingRuns(job_id, name, q, h) for job_id, name, q, h in rows]


def _queue_depths(
    session: DbSession, redis: Redis, status: ClusterStatus, job_queues: set[str]
) -> None:
    """Depth of every queue a task or job uses; Redis trouble is reported, not raised."""
    names = set(session.scalars(select(TaskFunction.queue))) | {WEBHOOK_QUEUE} | job_queues
    try:
        redis.ping()
        status.queues = {
            name: Queue(name, connection=redis, serializer=JSONSerializer).count
            for name in sorted(names)
        }
        status.redis = {"ok": True}
    except (RedisError, OSError) as error:
        status.redis = {"ok": False, "error": str(error) or type(error).__name__}
