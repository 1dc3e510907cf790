"""Past runs of counted jobs, counted per job, local day and outcome in SQL.

A job that fires more often than a cell lists (every minute on a month grid)
is drawn as one bar a day with its outcome split, so its runs are never needed
one by one: the database counts them (one GROUP BY) instead of sending every
row. Counted as the row-by-row path would fold them: a retried run counts once,
with its last attempt's outcome (the attempt no retry points to); the armed
pending slot is left to the occurrences, which already count it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, not_, select
from sqlalchemy.orm import aliased

from app.extensions import DbSession
from app.models import Execution, ExecutionStatus, ScheduledJob
from app.services.calendar.occurrences import SCHEDULED
from app.services.calendar.window import Window

_PENDING = ExecutionStatus.PENDING


def counted(
    session: DbSession,
    jobs: dict[uuid.UUID, ScheduledJob],
    job_ids: list[uuid.UUID],
    window: Window,
    now: datetime,
    outcome: str | None,
) -> Iterator[tuple[tuple[ScheduledJob, date], Counter[str]]]:
    """((job, local day), outcome counts) of the window's runs of ``job_ids``."""
    if not job_ids or outcome == SCHEDULED:
        return
    day = _local_day(window)
    retry = aliased(Execution)
    query = (
        select(Execution.job_id, day, Execution.status, func.count())
        .where(Execution.job_id.in_(job_ids))
        .where(Execution.scheduled_for >= window.start, Execution.scheduled_for < window.end)
        .where(~exists().where(retry.retry_of == Execution.id))
        .where(not_(and_(Execution.status == _PENDING, Execution.scheduled_for > now)))
        .group_by(Execution.job_id, day, Execution.status)
    )
    if outcome:
        query = query.where(Execution.status == outcome)
    found: dict[tuple[ScheduledJob, date], Counter[str]] = {}
    for job_id, index, status, count in session.execute(query):
        key = (jobs[job_id], window.bounds[index][0])
        found.setdefault(key, Counter())[str(status)] += count
    yield from found.items()


def busy(
    session: DbSession, job_ids: list[uuid.UUID], window: Window, dense_after: int
) -> list[uuid.UUID]:
    """Those of ``job_ids`` with more than ``dense_after`` runs on some day of the window."""
    if not job_ids:
        return []
    day = _local_day(window)
    query = (
        select(Execution.job_id)
        .where(Execution.job_id.in_(job_ids))
        .where(Execution.scheduled_for >= window.start, Execution.scheduled_for < window.end)
        .group_by(Execution.job_id, day)
        .having(func.count() > dense_after)
    )
    return list(set(session.scalars(query)))


def _local_day(window: Window) -> Any:
    """The index of the window's local day a run falls on, from the same day bounds as the
    grid (DST days included); portable SQL, no time zone support needed in the database."""
    bounds = window.bounds
    whens = [(Execution.scheduled_for < end, index) for index, (_d, _b, end) in enumerate(bounds)]
    return case(*whens, else_=len(bounds) - 1).label("day")
