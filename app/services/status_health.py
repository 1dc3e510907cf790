"""The status page's extra findings: RQ workers, recent runs, reachability and trouble.

``status.cluster_status`` gathers the snapshot both doors share (the API and the
pages); ``health`` adds what an operator needs when something went wrong, and
names each kind of trouble so the page can say what it means and what to do
(docs/OPERATIONS.md, "Status warnings"). Redis being away is itself a finding:
nothing here raises because of it, so the page still renders.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.serializers import JSONSerializer
from rq.worker.base import BaseWorker
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import DbSession
from app.models import Execution, ExecutionStatus, InstanceRole, SchedulerInstance, User
from app.services import access
from app.services.ledger.instances import worker_name
from app.services.ledger.reconcile_log import ReconcileReport, last_reconcile
from app.services.ledger.recurrence import execution_id_of
from app.services.status import ClusterStatus, cluster_status

RECENT = timedelta(hours=1)
# A process is "stale" after this many missed beats; the leader marks it stopped after six.
STALE_BEATS = 3


@dataclass(frozen=True)
class WorkerInfo:
    """One RQ worker: its process row (heartbeat) joined with what RQ says in Redis."""

    name: str
    instance: SchedulerInstance | None
    queues: list[str]
    state: str | None
    execution_id: uuid.UUID | None
    rq_heartbeat: datetime | None


@dataclass(frozen=True)
class Trouble:
    """One warning: its kind (the page words it) and what it is about (a queue, a process)."""

    kind: str
    subject: str = ""
    count: int = 0


@dataclass
class Health:
    """What the status page shows besides the shared snapshot."""

    workers: list[WorkerInfo] = field(default_factory=list)
    recent_runs: dict[str, int] = field(default_factory=dict)
    database_ok: bool = True
    stale: set[uuid.UUID] = field(default_factory=set)
    troubles: list[Trouble] = field(default_factory=list)
    last_reconcile: ReconcileReport | None = None


def stale_after(heartbeat_seconds: float) -> timedelta:
    """How old a heartbeat may be before the page calls it stale."""
    return timedelta(seconds=heartbeat_seconds * STALE_BEATS)


def recent_runs(session: DbSession, user: User, now: datetime) -> dict[str, int]:
    """Runs created in the last hour by outcome (every status listed), of visible jobs."""
    query = (
        select(Execution.status, func.count())
        .where(Execution.created_at >= now - RECENT)
        .group_by(Execution.status)
    )
    if not access.sees_all(user):
        query = query.where(Execution.job_id.in_(access.visible_job_ids(user)))
    rows = session.execute(query).all()
    return {s.value: 0 for s in ExecutionStatus} | {status: count for status, count in rows}


def database_reachable(session: DbSession) -> bool:
    """One trivial statement: the page got this far, but say it plainly."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def rq_workers(redis: Redis | None) -> dict[str, BaseWorker]:
    """RQ's own registry of workers by name; empty when Redis is away."""
    if redis is None:
        return {}
    try:
        return {w.name: w for w in Worker.all(connection=redis, serializer=JSONSerializer)}
    except (RedisError, OSError):
        return {}


def join_workers(
    instances: list[SchedulerInstance], registered: dict[str, BaseWorker]
) -> list[WorkerInfo]:
    """Worker process rows with RQ's view of each (RQ names them ``host.pid``)."""
    rows = []
    seen = set()
    for instance in instances:
        if instance.role != InstanceRole.WORKER.value:
            continue
        name = worker_name(instance.hostname, instance.pid)
        rq_name = name.replace(":", ".")
        seen.add(rq_name)
        rows.append(_worker_info(name, instance, registered.get(rq_name)))
    rows += [_worker_info(n, None, w) for n, w in sorted(registered.items()) if n not in seen]
    return rows


def _worker_info(
    name: str, instance: SchedulerInstance | None, rq: BaseWorker | None
) -> WorkerInfo:
    if rq is None:
        return WorkerInfo(name, instance, [], None, None, None)
    job_id = rq.get_current_job_id()
    return WorkerInfo(
        name,
        instance,
        rq.queue_names(),
        str(rq.get_state()),
        execution_id_of(job_id) if job_id else None,
        rq.last_heartbeat,
    )


@dataclass(frozen=True)
class StatusPage:
    """The shared snapshot plus the findings only the pages show."""

    cluster: ClusterStatus
    health: Health

    @property
    def workers_up(self) -> int:
        """Worker processes whose heartbeat is fresh."""
        return sum(1 for w in self.health.workers if _alive(w, self.health.stale))

    @property
    def queued(self) -> int:
        """Runs waiting in every queue together."""
        return sum(self.cluster.queues.values())


def page_status(
    session: DbSession, user: User, now: datetime, redis: Redis, heartbeat_seconds: float
) -> StatusPage:
    """Everything the status page and the jobs page's status panel show, as ``user`` may see it."""
    database_ok = database_reachable(session)
    cluster = cluster_status(session, user, now, redis, all_time=False)
    registered = rq_workers(redis) if cluster.redis.get("ok") else {}
    limit = now - stale_after(heartbeat_seconds)
    health = Health(
        workers=join_workers(cluster.instances, registered),
        recent_runs=recent_runs(session, user, now),
        database_ok=database_ok,
        stale={i.id for i in cluster.instances if i.last_heartbeat < limit},
        last_reconcile=_last_reconcile(redis) if cluster.redis.get("ok") else None,
    )
    health.troubles = troubles(cluster, health)
    return StatusPage(cluster, health)


def _last_reconcile(redis: Redis) -> ReconcileReport | None:
    """The last reconcile pass's report; unknown (None) when Redis cannot say."""
    try:
        return last_reconcile(redis)
    except (RedisError, OSError):
        return None


def _alive(worker: WorkerInfo, stale: set[uuid.UUID]) -> bool:
    """A worker counts when its process row beats (or, with no row, RQ lists it)."""
    return worker.instance.id not in stale if worker.instance else worker.state is not None


def _live_roles(cluster: ClusterStatus, stale: set[uuid.UUID]) -> set[str]:
    return {i.role for i in cluster.instances if i.id not in stale}


def troubles(cluster: ClusterStatus, health: Health) -> list[Trouble]:
    """Every kind of trouble found, worst first; an empty list means all is well."""
    found: list[Trouble] = []
    if not health.database_ok:
        found.append(Trouble("database_down"))
    if cluster.redis.get("ok") is False:
        found.append(Trouble("redis_down", str(cluster.redis.get("error", ""))))
    if cluster.leader is None:
        found.append(Trouble("no_leader"))
    roles = _live_roles(cluster, health.stale)
    live = [w for w in health.workers if _alive(w, health.stale)]
    if not live:
        found.append(Trouble("no_workers"))
    served = {queue for worker in live for queue in worker.queues}
    found += [
        Trouble("queue_unserved", name, depth)
        for name, depth in cluster.queues.items()
        if depth and name not in served
    ]
    if InstanceRole.RETRY.value not in roles:
        found.append(Trouble("no_retry"))
    found += [
        Trouble("stale", f"{i.role} {worker_name(i.hostname, i.pid)}")
        for i in cluster.instances
        if i.id in health.stale
    ]
    return found


__all__ = [
    "Health",
    "StatusPage",
    "Trouble",
    "WorkerInfo",
    "database_reachable",
    "join_workers",
    "page_status",
    "recent_runs",
    "rq_workers",
    "stale_after",
    "troubles",
]
