"""Reading execution history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select

from app.extensions import DbSession
from app.models import Execution, ScheduledJob, User
from app.services import access
from app.services.errors import NotFound
from app.services.paging import Page, page_of


@dataclass(frozen=True)
class HistoryFilters:
    """What history can be filtered by."""

    page: int = 1
    per_page: int = 20
    status: str | None = None
    triggered_by: str | None = None
    job_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


def _visible(user: User) -> Select[Execution]:
    """Executions of jobs this user may see (deleted jobs' history stays visible)."""
    query = select(Execution).join(ScheduledJob, Execution.job_id == ScheduledJob.id)
    return query.where(access.job_condition(user))


def list_executions(session: DbSession, user: User, filters: HistoryFilters) -> Page[Execution]:
    """A page of executions, newest first."""
    query = _visible(user)
    conditions = {
        Execution.status: filters.status,
        Execution.triggered_by: filters.triggered_by,
        Execution.job_id: filters.job_id,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(Execution.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Execution.created_at < filters.until)
    order = (Execution.created_at.desc(), Execution.id)
    return page_of(session, query, order, filters.page, filters.per_page)


def get_execution(session: DbSession, user: User, execution_id: uuid.UUID) -> Execution:
    """One execution of a job this user may see."""
    row: Execution | None = session.scalar(_visible(user).where(Execution.id == execution_id))
    if row is None:
        raise NotFound("No such execution.")
    return row
