"""Per-job summaries for a table of jobs: a fixed number of queries per page, never per row.

For a page of jobs: the last finished run (its status and duration), the
next run, successes and failures over the last 24 hours, and how many runs
are in progress. Four queries per thousand jobs, each served by an index
on executions: (job_id, created_at, id) for the last run and the 24-hour
counts, the status index for running runs.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.extensions import DbSession
from app.models import FAILURE_STATUSES, Execution, ExecutionStatus, ScheduledJob
from app.services.batches import chunks
from app.services.ledger import overlap

WINDOW = timedelta(hours=24)
# Runs that ran to an end; skipped, missed and cancelled slots never started.
_FINISHED = (
    ExecutionStatus.SUCCESS.value,
    ExecutionStatus.FAILED.value,
    ExecutionStatus.TIMEOUT.value,
)
_Last = aliased(Execution)


@dataclass(frozen=True)
class JobSummary:
    """What a row of the jobs table shows about a job's runs."""

    last_status: str | None = None
    last_duration_seconds: float | None = None
    next_run_time: datetime | None = None
    succeeded_24h: int = 0
    failed_24h: int = 0
    running: int = 0


def job_summaries(
    session: DbSession, job_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, JobSummary]:
    """Summaries of the given jobs (ids of no job are left out)."""
    ids = list(dict.fromkeys(job_ids))
    lasts = _last_runs(session, ids)
    counts = _recent_counts(session, ids, now - WINDOW)
    running = overlap.active_counts(session, ids, (ExecutionStatus.RUNNING.value,))
    return {
        job_id: JobSummary(
            last_status=status,
            last_duration_seconds=duration,
            next_run_time=next_run,
            succeeded_24h=counts[job_id, ExecutionStatus.SUCCESS.value],
            failed_24h=sum(counts[job_id, failure] for failure in FAILURE_STATUSES),
            running=running[job_id],
        )
        for job_id, (next_run, status, duration) in lasts.items()
    }


_LastRun = tuple[datetime | None, str | None, float | None]


def _last_runs(session: DbSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, _LastRun]:
    """Each job's next run and its newest finished run, in two queries per chunk.

    The correlated subquery walks one job's (job_id, created_at, id) index
    backwards and stops at the first finished run: a job with a million runs
    costs what a job with one does. The runs are then read by primary key.
    """
    newest = (
        select(_Last.id)
        .where(_Last.job_id == ScheduledJob.id, _Last.status.in_(_FINISHED))
        .order_by(_Last.created_at.desc(), _Last.id.desc())
        .limit(1)
        .correlate(ScheduledJob)
        .scalar_subquery()
    )
    found: dict[uuid.UUID, _LastRun] = {}
    for part in chunks(ids):
        jobs = session.execute(
            select(ScheduledJob.id, ScheduledJob.next_run_time, newest).where(
                ScheduledJob.id.in_(part)
            )
        ).all()
        run_ids = [run_id for _, _, run_id in jobs if run_id is not None]
        runs = {
            run_id: (status, duration)
            for run_id, status, duration in session.execute(
                select(Execution.id, Execution.status, Execution.duration_seconds).where(
                    Execution.id.in_(run_ids)
                )
            )
        }
        for job_id, next_run, run_id in jobs:
            status, duration = runs.get(run_id, (None, None)) if run_id else (None, None)
            found[job_id] = (next_run, status, duration)
    return found


def _recent_counts(
    session: DbSession, ids: list[uuid.UUID], since: datetime
) -> Counter[tuple[uuid.UUID, str]]:
    """Finished runs per (job, status) created since ``since``."""
    counts: Counter[tuple[uuid.UUID, str]] = Counter()
    for part in chunks(ids):
        rows = session.execute(
            select(Execution.job_id, Execution.status, func.count())
            .where(
                Execution.job_id.in_(part),
                Execution.created_at >= since,
                Execution.status.in_(_FINISHED),
            )
            .group_by(Execution.job_id, Execution.status)
        )
        counts.update({(job_id, status): count for job_id, status, count in rows})
    return counts


def changed_since(
    session: DbSession, job_ids: Iterable[uuid.UUID], since: datetime
) -> list[uuid.UUID]:
    """Which of these jobs changed, or had a run queued, start or end, after ``since``.

    One query per chunk, so a table polling for changes costs the same for any page size.
    """
    ids = list(dict.fromkeys(job_ids))
    moved = (
        select(Execution.job_id)
        .where(
            Execution.job_id == ScheduledJob.id,
            (Execution.created_at > since)
            | (Execution.started_at > since)
            | (Execution.completed_at > since),
        )
        .exists()
    )
    changed: list[uuid.UUID] = []
    for part in chunks(ids):
        changed += session.scalars(
            select(ScheduledJob.id).where(
                ScheduledJob.id.in_(part), (ScheduledJob.updated_at > since) | moved
            )
        )
    return changed
