"""What a failed run becomes: a retry after a backoff, or dead; and when a job gives up.

Called in the transaction that records a run as failed or timed out (the
worker's ``runs.finish``, or a sweep that found its worker dead), so the
retry item, the webhook events and the job's state commit together with the
outcome, or not at all. The retry process later turns due items into new
attempts (``retry_queue``) once their job has a free instance; an attempt
that still meets a busy job is handed back to wait, and a retry that waits
longer than RETRY_WAIT_LIMIT_SECONDS is given up (dead), never dropped.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app import backoff
from app.extensions import DbSession
from app.models import (
    Execution,
    JobStatus,
    RetryItem,
    RetryStatus,
    ScheduledJob,
    WebhookPhase,
)
from app.services import audit_trail
from app.services.events import webhooks

log = logging.getLogger(__name__)
# A poison pill (a run that kills its worker every time) is buried after this many.
DEFAULT_MAX_ABANDONED = 3
# Retries given up per pass at most (the rest on the next pass).
GIVE_UP_BATCH = 10_000


def on_failure(
    session: DbSession,
    row: Execution,
    now: datetime,
    *,
    abandoned: bool = False,
    max_abandoned: int = DEFAULT_MAX_ABANDONED,
) -> RetryItem:
    """Schedule the next attempt of a failed run, or bury it (dead); maybe fail the job.

    Retry n follows attempt n, so attempt ``retry_count + 1`` is the last.
    Every final failure gets a dead item, so the failed-tasks queue shows each
    run that will not be tried again on its own (and can retry it by hand).
    Returns the item (pending or dead).
    """
    job = row.job
    lost = _abandoned_before(session, row) + (1 if abandoned else 0)
    if row.attempt <= job.retry_count and lost < max_abandoned:
        item = _pending_item(row, job, lost, now)
        session.add(item)
        webhooks.emit(session, WebhookPhase.RETRYING, row, now, retry=item)
        return item
    error = row.error_message or "failed"
    if lost >= max_abandoned:
        error = f"{error}; given up: its worker died on {lost} attempts (a poison pill?)"
    item = RetryItem(
        id=uuid.uuid4(),
        execution_id=row.id,
        job_id=job.id,
        attempt=row.attempt + 1,
        next_try_at=now,
        status=RetryStatus.DEAD.value,
        last_error=error[:2000],
        abandoned=lost,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    webhooks.emit(session, WebhookPhase.DEAD, row, now, retry=item)
    fail_job_on_streak(session, job, now)
    return item


def bury(session: DbSession, item: RetryItem, now: datetime, why: str) -> None:
    """A pending retry that will not be tried after all: dead, saying why; maybe fail the job.

    Like a final failure: the dead event goes out and the job's failure
    streak is judged now, no longer waiting on this retry.
    """
    item.status = RetryStatus.DEAD.value
    item.last_error = f"{why}; {item.last_error or 'failed'}"[:2000]
    item.updated_at = now
    webhooks.emit(session, WebhookPhase.DEAD, item.execution, now, retry=item)
    fail_job_on_streak(session, item.job, now)


def job_runs_retries() -> list[ColumnElement[bool]]:
    """SQL: the job is live and active (retries wait while it is paused, disabled or failed)."""
    return [
        ScheduledJob.deleted_at.is_(None),
        ScheduledJob.is_enabled.is_(True),
        ~ScheduledJob.is_paused,
        ScheduledJob.status != JobStatus.FAILED.value,
    ]


def hand_back(session: DbSession, attempt: Execution, now: datetime) -> bool:
    """An attempt that found no free instance returns to the retry table, pending again.

    Its row goes (it never started), so the next launch may create the one
    attempt the failed run is allowed. False if no item launched it.
    """
    item = session.scalar(select(RetryItem).where(RetryItem.retry_execution_id == attempt.id))
    if item is None:
        return False
    item.status = RetryStatus.PENDING.value
    item.retry_execution_id = None
    item.claimed_by = None
    item.claimed_at = None
    item.updated_at = now
    session.delete(attempt)
    return True


def give_up_waiting(session: DbSession, now: datetime, limit: timedelta) -> int:
    """Due items of running jobs that found no free instance for ``limit`` go dead.

    Items of paused, disabled or failed jobs are left waiting: they are not
    kept from a free instance but from running at all.
    """
    stale = session.scalars(
        select(RetryItem)
        .join(ScheduledJob, ScheduledJob.id == RetryItem.job_id)
        .options(joinedload(RetryItem.execution), joinedload(RetryItem.job))
        .where(RetryItem.status == RetryStatus.PENDING.value)
        .where(RetryItem.next_try_at < now - limit, *job_runs_retries())
        .limit(GIVE_UP_BATCH)
    ).all()
    for item in stale:
        waited = int(limit.total_seconds())
        why = (
            f"given up: no free instance within {waited}s of falling due "
            f"(max_instances={item.job.max_instances}; RETRY_WAIT_LIMIT_SECONDS)"
        )
        bury(session, item, now, why)
    return len(stale)


def _pending_item(row: Execution, job: ScheduledJob, lost: int, now: datetime) -> RetryItem:
    delay = backoff.retry_delay(
        job.retry_backoff,
        row.attempt,
        job.retry_delay_seconds,
        job.retry_max_delay_seconds,
        job.retry_jitter_seconds,
    )
    return RetryItem(
        id=uuid.uuid4(),
        execution_id=row.id,
        job_id=job.id,
        attempt=row.attempt + 1,
        next_try_at=now + timedelta(seconds=delay),
        status=RetryStatus.PENDING.value,
        last_error=(row.error_message or "failed")[:2000],
        abandoned=lost,
        created_at=now,
        updated_at=now,
    )


def _abandoned_before(session: DbSession, row: Execution) -> int:
    """Attempts of this run's chain (before this one) whose worker died."""
    if row.retry_of is None:
        return 0
    count = session.scalar(
        select(RetryItem.abandoned).where(RetryItem.execution_id == row.retry_of)
    )
    return int(count or 0)


def fail_job_on_streak(session: DbSession, job: ScheduledJob, now: datetime) -> bool:
    """Stop a job whose failure streak reached its limit; True if it stopped now.

    One conditional UPDATE: two workers recording failures at once cannot both
    stop it (and audit it twice), and a job paused or disabled meanwhile is
    left as the operator set it.
    """
    limit = job.max_consecutive_failures
    if limit <= 0:
        return False
    result = session.execute(
        update(ScheduledJob)
        .where(
            ScheduledJob.id == job.id,
            ScheduledJob.status == JobStatus.ACTIVE.value,
            ScheduledJob.consecutive_failures >= limit,
        )
        .values(status=JobStatus.FAILED.value, next_run_time=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    set_committed_value(job, "status", JobStatus.FAILED.value)
    reason = f"{limit} consecutive failed runs; resume the job to start again"
    audit_trail.record(session, None, audit_trail.JOB, job.id, "failed", {"reason": reason}, now)
    log.warning("job %s stopped after %d consecutive failures", job.id, limit)
    return True


__all__ = [
    "DEFAULT_MAX_ABANDONED",
    "bury",
    "fail_job_on_streak",
    "give_up_waiting",
    "hand_back",
    "job_runs_retries",
    "on_failure",
]
