"""The overlap rule, shared by both halves of the ledger.

A job runs at most ``max_instances`` runs at once (SPEC §4.4). When a run
would exceed that, the ``queue`` policy holds it (one waiting run per job)
and ``skip`` records it skipped. The scheduler holds catch-up runs the same
way (``firing``), and the worker applies the rule where a run would start
(``runs.claim``); both read the held state through this module only.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import aliased

from app.extensions import DbSession
from app.models import Execution, ExecutionStatus, OverlapPolicy, ScheduledJob, WebhookPhase
from app.services import webhooks
from app.services.batches import chunks

HELD = "held for a free instance"
ACTIVE = (ExecutionStatus.QUEUED.value, ExecutionStatus.RUNNING.value)
_Waiting = aliased(Execution)


def is_held() -> ColumnElement[bool]:
    """SQL: the row waits for a free instance (held by the overlap or misfire policy)."""
    return Execution.held == true()


def is_held_row(row: Execution) -> bool:
    """The row waits for a free instance."""
    return bool(row.held)


def hold(row: Execution, reason: str) -> None:
    """Keep a pending row back until its job has a free instance (``release``).

    The reason is history, not state: it still explains a late start after
    the row was released, so release leaves it as it is.
    """
    row.status = ExecutionStatus.PENDING.value
    row.held = True
    row.reason = reason[:500]


def release(row: Execution) -> None:
    """A held row may start: it is no longer waiting."""
    row.held = False


def active_counts(
    session: DbSession, job_ids: Iterable[uuid.UUID], statuses: Sequence[str] = ACTIVE
) -> Counter[uuid.UUID]:
    """Executions per job in the given statuses (default: queued or running)."""
    counts: Counter[uuid.UUID] = Counter()
    for part in chunks(set(job_ids)):
        rows = session.execute(
            select(Execution.job_id, func.count())
            .where(Execution.job_id.in_(part), Execution.status.in_(statuses))
            .group_by(Execution.job_id)
        )
        counts.update({job_id: count for job_id, count in rows})
    return counts


def held_jobs(session: DbSession, job_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these jobs have a run held, waiting for a free instance."""
    held: set[uuid.UUID] = set()
    for part in chunks(set(job_ids)):
        held |= set(
            session.scalars(
                select(Execution.job_id).where(
                    Execution.job_id.in_(part),
                    Execution.status == ExecutionStatus.PENDING.value,
                    is_held(),
                )
            )
        )
    return held


def waiting_before(row: Execution) -> ColumnElement[bool]:
    """SQL: an older slot of the same job is held, waiting for a free instance."""
    return (
        select(_Waiting.id)
        .where(
            _Waiting.job_id == row.job_id,
            _Waiting.status == ExecutionStatus.PENDING.value,
            _Waiting.held == true(),
            _Waiting.scheduled_for < row.scheduled_for,
        )
        .exists()
    )


def apply(session: DbSession, row: Execution, job: ScheduledJob, now: datetime) -> None:
    """A run that would exceed max_instances: hold it (policy queue, one waiting) or skip it."""
    running = active_counts(session, [job.id], (ExecutionStatus.RUNNING.value,))[job.id]
    if job.overlap_policy == OverlapPolicy.QUEUE and not held_jobs(session, [job.id]):
        hold(row, f"{HELD} (max_instances={job.max_instances}, overlap policy queue)")
        return
    why = "a run is already waiting" if job.overlap_policy == OverlapPolicy.QUEUE else ""
    row.status = ExecutionStatus.SKIPPED.value
    row.reason = _skip_reason(job, running, why)[:500]
    row.completed_at = now
    webhooks.emit(session, WebhookPhase.SKIPPED, row, now)


def _skip_reason(job: ScheduledJob, running: int, extra: str) -> str:
    reason = f"skipped: {running} run(s) still in progress (max_instances={job.max_instances})"
    return f"{reason}; {extra}" if extra else reason
