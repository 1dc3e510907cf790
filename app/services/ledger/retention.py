"""Retention: deleting old execution history in batches, by schedule or on request."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from app.extensions import DbSession
from app.i18n import _
from app.models import Execution, ExecutionStatus, User
from app.services import access, limits
from app.services.errors import Invalid

_OPEN = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)


def purge_before(session: DbSession, cutoff: datetime, batch_size: int = 1000) -> int:
    """Delete finished executions created before ``cutoff``, one batch per commit.

    Batches keep each transaction (and its locks) short on a busy database.
    """
    deleted = 0
    while True:
        ids = session.scalars(
            select(Execution.id)
            .where(Execution.created_at < cutoff, Execution.status.not_in([s.value for s in _OPEN]))
            .limit(batch_size)
        ).all()
        if not ids:
            return deleted
        session.execute(delete(Execution).where(Execution.id.in_(ids)))
        session.commit()
        deleted += len(ids)


def purge_older_than(session: DbSession, days: int, now: datetime, batch_size: int = 1000) -> int:
    """Delete finished executions older than ``days`` days (the cleanup_history task's body)."""
    return purge_before(session, now - timedelta(days=days), batch_size)


def cleanup_history(
    session: DbSession, user: User | None, older_than_days: int, now: datetime
) -> int:
    """Delete finished executions older than ``older_than_days`` days (admins only).

    ``user`` None is the operator at the command line. It commits batch by
    batch (``purge_before``), so a large purge never holds locks for long.
    """
    if user is not None:
        access.require_admin(user, _("Only admins may delete history."))
    bounds = limits.HISTORY_DAYS
    # The operator's own retention setting may reach further back than a person's request.
    high = bounds.high if user is not None else older_than_days
    if not bounds.low <= older_than_days <= high:
        message = _("must be between {low} and {high}").format(low=bounds.low, high=bounds.high)
        raise Invalid(fields={"older_than_days": message})
    return purge_before(session, now - timedelta(days=older_than_days))
