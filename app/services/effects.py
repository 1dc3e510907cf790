"""The end of every write: commit, then the Redis follow-up.

A service commits its change first and only then tells Redis about it, so
Redis never hears of a change that was rolled back. Redis being down never
undoes a committed change: the scheduler's reconcile pass finds changed jobs
and queued runs RQ never got, so a failed signal only costs latency.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Protocol

from redis.exceptions import RedisError

from app.extensions import DbSession
from app.services.ledger.recurrence import Arm, Recurrence

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Tells the scheduler that jobs changed (``Recurrence`` is one)."""

    def mark_changed(self, job_id: uuid.UUID) -> None:
        """Flag one job for the scheduler's next pass."""


def commit_and_notify(
    session: DbSession, notifier: Notifier | None, job_ids: Iterable[uuid.UUID]
) -> None:
    """Commit, then signal the scheduler (None: leave it to the next reconcile pass)."""
    session.commit()
    if notifier is None:
        return
    for job_id in job_ids:
        try:
            notifier.mark_changed(job_id)
        except (RedisError, OSError):
            log.warning("could not signal the scheduler about job %s; reconcile will", job_id)
            return


def enqueue(recurrence: Recurrence | None, arms: Sequence[Arm]) -> bool:
    """Queue committed runs; False when Redis is down (reconcile re-queues them)."""
    if not arms or recurrence is None:
        return recurrence is not None or not arms
    try:
        recurrence.apply(None, enqueue=list(arms))
    except (RedisError, OSError):
        log.warning("could not enqueue %d runs; reconcile will re-queue them", len(arms))
        return False
    return True


__all__ = ["Notifier", "commit_and_notify", "enqueue"]
