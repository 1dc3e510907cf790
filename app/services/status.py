"""What is known about the cluster: processes, leader, counts, queues."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import func, select

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
    WebhookDelivery,
)
from app.queues import redis_connection, rq_queue
from app.services.recurrence import WEBHOOK_QUEUE

LEASE_NAME = "scheduler"


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


def cluster_status(session: DbSession, now: datetime) -> ClusterStatus:
    """Gather the status snapshot."""
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
    status = ClusterStatus(
        instances=instances,
        leader=leader,
        lease_expires_at=live_lease.expires_at if live_lease else None,
        job_counts=_job_counts(session),
        running_jobs=_running_jobs(session),
        execution_counts=_execution_counts(session),
        next_job=_next_job(session),
        retry_counts=_counts(session, RetryItem.status, RetryStatus),
        delivery_counts=_counts(session, WebhookDelivery.status, DeliveryStatus),
    )
    _queue_depths(session, status)
    return status


def _job_counts(session: DbSession) -> dict[str, int]:
    rows = session.execute(
        select(ScheduledJob.status, func.count())
        .where(ScheduledJob.deleted_at.is_(None))
        .group_by(ScheduledJob.status)
    ).all()
    counts = {s.value: 0 for s in JobStatus} | {status: count for status, count in rows}
    counts["total"] = sum(count for _, count in rows)
    return counts


def _running_jobs(session: DbSession) -> int:
    return (
        session.scalar(
            select(func.count(func.distinct(Execution.job_id))).where(
                Execution.status == ExecutionStatus.RUNNING.value
            )
        )
        or 0
    )


def _execution_counts(session: DbSession) -> dict[str, int]:
    return _counts(session, Execution.status, ExecutionStatus)


def _counts(session: DbSession, column: Any, statuses: Iterable[StrEnum]) -> dict[str, int]:
    """Rows per status (every status listed, zero included)."""
    rows = session.execute(select(column, func.count()).group_by(column)).all()
    return {s.value: 0 for s in statuses} | {status: count for status, count in rows}


def _next_job(session: DbSession) -> ScheduledJob | None:
    return session.scalar(
        select(ScheduledJob)
        .where(
            ScheduledJob.deleted_at.is_(None),
            ScheduledJob.status == JobStatus.ACTIVE.value,
            ScheduledJob.next_run_time.is_not(None),
        )
        .order_by(ScheduledJob.next_run_time)
        .limit(1)
    )


def _queue_depths(session: DbSession, status: ClusterStatus) -> None:
    """Depth of every queue a task or job uses; Redis trouble is reported, not raised."""
    names = set(session.scalars(select(TaskFunction.queue))) | {WEBHOOK_QUEUE}
    names |= {q for q in session.scalars(select(ScheduledJob.queue).distinct()) if q}
    try:
        redis_connection().ping()
        status.queues = {name: rq_queue(name).count for name in sorted(names)}
        status.redis = {"ok": True}
    except (RedisError, OSError) as error:
        status.redis = {"ok": False, "error": str(error) or type(error).__name__}
