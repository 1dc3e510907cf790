"""Retention: deleting old execution history in batches."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from app.extensions import DbSession
from app.models import Execution, ExecutionStatus

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
