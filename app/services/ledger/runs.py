"""The worker's half of the ledger: claim an execution, run its task, record the outcome."""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rq.timeouts import JobTimeoutException
from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import DbSession
from app.models import (
    FAILURE_STATUSES,
    Execution,
    ExecutionStatus,
    ScheduledJob,
    TriggeredBy,
    User,
    WebhookPhase,
    utcnow,
)
from app.services.errors import ServiceError
from app.services.events import webhooks
from app.services.failures import retries
from app.services.ledger import output, overlap, statements
from app.services.ledger.recurrence import Arm, Recurrence, rq_job_id
from app.tasks import HttpTaskError, TaskArgsError, registry

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """How a run ended."""

    status: ExecutionStatus
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    http_status: int | None = None
    log: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def claim(
    session: DbSession,
    execution_id: uuid.UUID,
    worker: str,
    enqueued_at: datetime | None,
    now: datetime,
) -> Execution | None:
    """Take a queued execution for this worker; None if it must not run now.

    The run is read with its job; then one conditional update starts it and
    says whether any webhook listens for starts. Manual runs ("Run now", the
    API) are not limited: the update only checks that the run is still
    claimable, and when no webhook wants the start, read and update go out
    without a transaction (two round trips instead of four, no lock but the
    run's own). A scheduled slot or a retry attempt obeys the overlap rule
    again here, where a run would start (the scheduler applied it when the
    slot fell due): in one transaction its job's row is locked first
    (PostgreSQL), so the update's count of running runs is a snapshot taken
    under the lock and two such claims can never both start past
    max_instances. A manual run starting meanwhile, unseen by that count, is
    one that could have started just after it anyway. A retry attempt is
    never dropped. The claimed row and its job stay loaded after the commit
    (the caller reads them without a query).
    """
    alone = not _plain(session).in_transaction()
    if alone:  # each statement commits itself, until one transaction is needed
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    found = session.execute(statements.WITH_JOB, {"run": execution_id}).one_or_none()
    if found is None or not _claimable(found.Execution):
        _not_claimable(session, execution_id)
        return None
    row: Execution = found.Execution
    job = row.job
    limited = row.triggered_by not in (TriggeredBy.MANUAL, TriggeredBy.API)
    if alone and (limited or found.listened):
        _commit_keeping(session)  # the lock, the update and any event: one transaction
    if limited:
        lock_jobs(session, [row.job_id])
    # RQ's own enqueue time is the truth; the scheduler's stamp is a fallback.
    queued_at = enqueued_at if enqueued_at is not None else row.queued_at
    taken = (
        session.connection()
        .execute(
            statements.claim(limited),
            {
                "run": execution_id,
                "job": row.job_id,
                "slot": row.scheduled_for,
                "now": now,
                "worker": worker,
                "enqueued": queued_at,
            },
        )
        .one_or_none()
    )
    if taken is not None:
        # What the update wrote, without reading the row back.
        written = {
            "status": ExecutionStatus.RUNNING.value,
            "started_at": now,
            "worker_name": worker,
            "queued_at": queued_at,
        }
        for key, value in written.items():
            set_committed_value(row, key, value)
        if taken.listened:
            webhooks.emit(session, WebhookPhase.STARTED, row, now)
        _commit_keeping(session)
        return row
    if not limited or not _claimable(_reread(session, row)):
        _not_claimable(session, execution_id)  # closed since it was read
        return None
    _cannot_start(session, row, job, now)
    session.commit()
    return None


def _plain(session: DbSession) -> Session:
    return session() if isinstance(session, scoped_session) else session


def _claimable(row: Execution) -> bool:
    return row.status in statements.CLAIMABLE and not overlap.is_held_row(row)


def _reread(session: DbSession, row: Execution) -> Execution:
    """The row as it is now (under its job's lock): read unlocked, it may have changed."""
    session.refresh(row, ["status", "held"])
    return row


def _not_claimable(session: DbSession, execution_id: uuid.UUID) -> None:
    session.rollback()
    log.info("execution %s is not claimable (already run, closed or unknown)", execution_id)


def _commit_keeping(session: DbSession) -> None:
    """Commit without expiring what was loaded: the caller reads it after the session closes."""
    target = _plain(session)
    before = target.expire_on_commit
    target.expire_on_commit = False
    try:
        target.commit()
    finally:
        target.expire_on_commit = before


def _cannot_start(session: DbSession, row: Execution, job: ScheduledJob, now: datetime) -> None:
    """The run may not start now: a retry attempt goes back to wait in the retry table;
    a slot is held or skipped by the overlap rule, saying what it counted.

    Counted under the job's lock, as the claim did: the runs running and the
    slots held ahead of this one (runs merely queued never block a claim).
    """
    if row.triggered_by == TriggeredBy.RETRY and retries.hand_back(session, row, now):
        return
    load = overlap.loads(session, [job], exclude=row.id)[job.id]
    load.queued = 0
    overlap.wait_or_skip(session, row, load, now)


def lock_jobs(session: DbSession, job_ids: Sequence[uuid.UUID]) -> None:
    """Lock job rows (PostgreSQL), in id order, before touching their executions.

    Limited claims and reconcile lock here, and a finish takes the job through its
    summary update first (``_ended``): all take a job before its runs, so
    they queue up instead of deadlocking. The id-only select keeps the eager
    joins of ScheduledJob out of FOR UPDATE.
    """
    if job_ids:
        session.execute(
            select(ScheduledJob.id)
            .where(ScheduledJob.id.in_(job_ids))
            .order_by(ScheduledJob.id)
            .with_for_update()
        )


def wait_until_due(execution: Execution) -> None:
    """Defence in depth: never start a slot before its time."""
    if execution.scheduled_for is None or execution.triggered_by != TriggeredBy.SCHEDULER:
        return
    early = (execution.scheduled_for - utcnow()).total_seconds()
    if 0 < early < 5:
        time.sleep(early)


def execute(job: ScheduledJob, log_limit: int) -> Outcome:
    """Run the job's registered task with its arguments, capturing its output."""
    buffer = output.BoundedBuffer(log_limit)
    with output.capture(buffer):
        try:
            spec = registry.get(job.task_function.name)
            result = spec.func(**spec.validate_args(job.task_args))
            outcome = Outcome(ExecutionStatus.SUCCESS, result=output.jsonable(result))
            outcome.http_status = output.http_status(result)
        except JobTimeoutException:
            outcome = Outcome(
                ExecutionStatus.TIMEOUT, error=f"timed out after {job.timeout_seconds}s"
            )
        except HttpTaskError as error:
            outcome = _failure(error)
            outcome.http_status = error.status
            outcome.result = output.jsonable(error.result)
        except (KeyError, TaskArgsError) as error:
            outcome = Outcome(ExecutionStatus.FAILED, error=f"cannot run: {error}")
        except Exception as error:
            outcome = _failure(error)
    outcome.log = buffer.getvalue()
    return outcome


def _failure(error: BaseException) -> Outcome:
    text = f"{type(error).__name__}: {error}"
    return Outcome(ExecutionStatus.FAILED, error=text[:2000], traceback=traceback.format_exc())


# The webhook phase each way of ending announces.
_END_PHASES = {
    ExecutionStatus.SUCCESS.value: WebhookPhase.SUCCEEDED,
    ExecutionStatus.FAILED.value: WebhookPhase.FAILED,
    ExecutionStatus.TIMEOUT.value: WebhookPhase.TIMEOUT,
}


def finish(
    session: DbSession,
    execution_id: uuid.UUID,
    outcome: Outcome,
    now: datetime,
    max_abandoned: int = retries.DEFAULT_MAX_ABANDONED,
    *,
    claimed: Execution | None = None,
) -> bool:
    """Record the outcome if the execution is still ours (running); then what follows it.

    In the same transaction: the job's summary, the webhook events, and for a
    failure its retry (or its burial, and maybe the job's stop). ``claimed``
    is the row the claim returned (its job and start), which saves reading it
    again. The job's summary goes first (the job row before the run's, the
    order claims and reconcile lock in), then one conditional update records
    the end and says whether a webhook listens: on PostgreSQL both in one
    statement (``statements.summary_then_end``), on SQLite in two. Nothing
    is kept unless the run was still running.
    """
    if claimed is not None:
        job_id, started = claimed.job_id, claimed.started_at
    else:
        known = session.execute(
            select(Execution.job_id, Execution.started_at).where(Execution.id == execution_id)
        ).one_or_none()
        if known is None:
            return _dropped(session, execution_id)
        job_id, started = known
    started = started or now
    phase = _END_PHASES[outcome.status.value]
    if session.get_bind().dialect.name == "postgresql":
        failed = outcome.status.value in FAILURE_STATUSES
        statement = statements.summary_then_end(failed, phase)
    else:
        _update_job_summary(session, job_id, outcome.status.value, started)
        statement = statements.end(phase)
    ended = (
        session.connection()
        .execute(
            statement,
            {
                "run": execution_id,
                "job": job_id,
                "started": started,
                "outcome": outcome.status.value,
                "now": now,
                "duration": max((now - started).total_seconds(), 0.0),
                "value": outcome.result,
                "error": outcome.error,
                "trace": outcome.traceback,
                "log": outcome.log or None,
                "http": outcome.http_status,
            },
        )
        .one_or_none()
    )
    if ended is None:
        return _dropped(session, execution_id)
    if ended.listened or outcome.status != ExecutionStatus.SUCCESS:
        # Events and retries work on the row: read once, only when there are any.
        row = session.get(Execution, execution_id, populate_existing=True)
        assert row is not None  # updated a moment ago, under its lock
        if ended.listened:
            webhooks.emit(session, phase, row, now)
        if row.status != ExecutionStatus.SUCCESS:
            retries.on_failure(session, row, now, max_abandoned=max_abandoned)
    session.commit()
    return True


def _dropped(session: DbSession, execution_id: uuid.UUID) -> bool:
    session.rollback()
    log.warning("execution %s was closed meanwhile; outcome dropped", execution_id)
    return False


def _ended(
    session: DbSession, row: Execution, now: datetime, *, abandoned: bool, max_abandoned: int
) -> None:
    """What follows a run's end: the job's summary, its events, its retry.

    The summary's UPDATE goes out before the run's own (no autoflush): the
    job row is locked before the run's, the order claims and reconcile use.
    """
    with session.no_autoflush:
        _update_job_summary(session, row.job_id, row.status, row.started_at or now)
    webhooks.emit(session, _END_PHASES[row.status], row, now)
    if row.status != ExecutionStatus.SUCCESS:
        retries.on_failure(session, row, now, abandoned=abandoned, max_abandoned=max_abandoned)


def _update_job_summary(
    session: DbSession, job_id: uuid.UUID, status: str, started: datetime
) -> None:
    """last_run_time, last_status and the failure streak, updated atomically."""
    session.connection().execute(
        statements.summary(status in FAILURE_STATUSES),
        {"job": job_id, "started": started, "outcome": status},
    )


def fail_lost(
    session: DbSession,
    execution: Execution,
    reason: str,
    now: datetime,
    max_abandoned: int = retries.DEFAULT_MAX_ABANDONED,
) -> None:
    """Close a run whose worker died: failed, with the reason, retried per policy."""
    execution.status = ExecutionStatus.FAILED.value
    execution.error_message = reason
    execution.completed_at = now
    if execution.started_at:
        execution.duration_seconds = (now - execution.started_at).total_seconds()
    _ended(session, execution, now, abandoned=True, max_abandoned=max_abandoned)


def trigger(
    session: DbSession,
    recurrence: Recurrence,
    job: ScheduledJob,
    user: User | None,
    via: TriggeredBy,
    now: datetime,
) -> Execution:
    """Run now: a new execution straight into the queue, even for a paused job."""
    row_id = uuid.uuid4()
    row = Execution(
        id=row_id,
        rq_job_id=rq_job_id(row_id),
        job_id=job.id,
        status=ExecutionStatus.QUEUED.value,
        scheduled_for=now,
        queued_at=now,
        triggered_by=via.value,
        triggered_by_user_id=user.id if user else None,
    )
    session.add(row)
    session.commit()
    try:
        recurrence.enqueue_now(Arm(row.id, now, job.effective_queue, job.timeout_seconds))
    except Exception as error:
        row.status = ExecutionStatus.FAILED.value
        row.error_message = f"could not enqueue: {type(error).__name__}: {error}"[:2000]
        row.completed_at = utcnow()
        session.commit()
        raise ServiceError(
            "The queue (Redis) is not reachable; the run was recorded as failed."
        ) from error
    return row


__all__ = ["Outcome", "claim", "execute", "fail_lost", "finish", "trigger", "wait_until_due"]
