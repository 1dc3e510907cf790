"""Reading execution history: offset pages for the API, keyset pages for deep history.

Keyset pages go newest first on (created_at, id), or on (scheduled_for, id)
when the read is filtered by the slot window; each has an index, so page
10,000 costs what page 1 does. The cursor is opaque to callers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import DbSession
from app.models import Execution, ScheduledJob, TaskFunction, User
from app.services import access, keyset
from app.services.errors import NotFound
from app.services.paging import Page, contains, page_of

# The sort key a cursor belongs to: a cursor of one order is refused by the other.
_BY_CREATED, _BY_SLOT = "created", "scheduled"


@dataclass(frozen=True)
class HistoryFilters:
    """What history can be filtered by: creation window, slot window and the rest."""

    page: int = 1
    per_page: int = 20
    status: str | None = None
    triggered_by: str | None = None
    job_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    scheduled_since: datetime | None = None
    scheduled_until: datetime | None = None
    started_since: datetime | None = None
    started_until: datetime | None = None
    job_name: str | None = None
    task: str | None = None
    queue: str | None = None
    q: str | None = None

    @property
    def by_slot(self) -> bool:
        """Filtered by the slot window: keyset pages then follow scheduled_for."""
        return self.scheduled_since is not None or self.scheduled_until is not None


def _visible(user: User) -> Select[Execution]:
    """Executions of jobs this user may see (deleted jobs' history stays visible)."""
    return (
        select(Execution)
        .join(ScheduledJob, Execution.job_id == ScheduledJob.id)
        .where(access.job_condition(user))
    )


def job_conditions(
    job_name: str | None = None, task: str | None = None, queue: str | None = None
) -> list[ColumnElement[bool]]:
    """SQL on ``ScheduledJob``: its name contains ``job_name``, it runs ``task``, on ``queue``.

    The queue is the job's own, else its task's (``ScheduledJob.effective_queue``).
    Shared by the history and the retry queue, so both pages filter alike.
    """
    conditions: list[ColumnElement[bool]] = []
    if job_name:
        conditions.append(contains(ScheduledJob.name, job_name))
    if task:
        task_ids = select(TaskFunction.id).where(TaskFunction.name == task)
        conditions.append(ScheduledJob.task_function_id.in_(task_ids))
    if queue:
        task_queue = (
            select(TaskFunction.queue)
            .where(TaskFunction.id == ScheduledJob.task_function_id)
            .scalar_subquery()
        )
        own_queue = func.nullif(ScheduledJob.queue, "")
        conditions.append(func.coalesce(own_queue, task_queue) == queue)
    return conditions


def _filtered(user: User, filters: HistoryFilters) -> Select[Execution]:
    """The visible executions matching every filter given."""
    query = _visible(user).where(*job_conditions(filters.job_name, filters.task, filters.queue))
    if filters.q:
        query = query.where(contains(Execution.error_message, filters.q))
    equal = {
        Execution.status: filters.status,
        Execution.triggered_by: filters.triggered_by,
        Execution.job_id: filters.job_id,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    windows = (
        (Execution.created_at, filters.since, filters.until),
        (Execution.scheduled_for, filters.scheduled_since, filters.scheduled_until),
        (Execution.started_at, filters.started_since, filters.started_until),
    )
    for time_column, start, end in windows:
        if start is not None:
            query = query.where(time_column >= start)
        if end is not None:
            query = query.where(time_column < end)
    return query


def list_executions(session: DbSession, user: User, filters: HistoryFilters) -> Page[Execution]:
    """A page of executions, newest first (offset paging, with the total)."""
    order = (Execution.created_at.desc(), Execution.id)
    return page_of(session, _filtered(user, filters), order, filters.page, filters.per_page)


def list_executions_keyset(
    session: DbSession,
    user: User,
    filters: HistoryFilters,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Execution]:
    """A keyset page of executions, newest first, continuing after ``cursor``."""
    keyset.check_limit(limit)
    query = keyset_query(user, filters, cursor, limit + 1)
    kind = _BY_SLOT if filters.by_slot else _BY_CREATED

    def key(row: Execution) -> tuple[datetime, uuid.UUID]:
        when = row.scheduled_for if filters.by_slot else row.created_at
        assert when is not None  # the slot window leaves runs without a slot out
        return when, row.id

    return keyset.page(session, query, limit, key, kind)


def keyset_query(
    user: User, filters: HistoryFilters, cursor: str | None, limit: int
) -> Select[Execution]:
    """SQL for up to ``limit`` rows after ``cursor``: one index range scan, however deep."""
    kind = _BY_SLOT if filters.by_slot else _BY_CREATED
    column = Execution.scheduled_for if filters.by_slot else Execution.created_at
    return keyset.newest_first(_filtered(user, filters), column, Execution.id, kind, cursor, limit)


def get_execution(session: DbSession, user: User, execution_id: uuid.UUID) -> Execution:
    """One execution of a job this user may see."""
    row: Execution | None = session.scalar(_visible(user).where(Execution.id == execution_id))
    if row is None:
        raise NotFound("No such execution.")
    return row


def get_many(session: DbSession, user: User, ids: list[uuid.UUID]) -> list[Execution]:
    """The executions among ``ids`` this user may see (a live list polls for its rows)."""
    if not ids:
        return []
    return list(session.scalars(_visible(user).where(Execution.id.in_(ids))))


def load_jobs(session: DbSession, rows: list[Execution]) -> None:
    """Load the jobs of ``rows`` in one query, so ``row.job`` costs none per row (a list page).

    Set on each row: the session's identity map holds objects weakly, so merely
    loading them would not keep them for the template.
    """
    ids = {row.job_id for row in rows}
    if not ids:
        return
    jobs = {
        job.id: job for job in session.scalars(select(ScheduledJob).where(ScheduledJob.id.in_(ids)))
    }
    for row in rows:
        set_committed_value(row, "job", jobs.get(row.job_id))


def next_attempt(session: DbSession, user: User, execution: Execution) -> Execution | None:
    """The retry that followed ``execution`` (its next attempt), if any."""
    query = _visible(user).where(Execution.retry_of == execution.id)
    row: Execution | None = session.scalar(query.order_by(Execution.created_at).limit(1))
    return row
