"""Reading the retry queue: which items a user sees, filtered like the runs history.

Visibility is a condition on ``RetryItem.job_id`` (no join), so an admin's
reads of 100,000 items scan one table; filters on the job (name, task, queue)
and on the failed run (trigger, slot or start window) are semi-joins added
only when asked for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import joinedload

from app.extensions import DbSession
from app.i18n import _
from app.models import Execution, RetryItem, RetryStatus, ScheduledJob, User
from app.services import access
from app.services.errors import NotFound
from app.services.ledger.executions import job_conditions
from app.services.paging import Page, contains, page_of

# Shown unless a status is asked for: waiting for a retry, being retried, or dead.
WAITING = (RetryStatus.PENDING.value, RetryStatus.CLAIMED.value, RetryStatus.DEAD.value)
MAX_IDS = 500


@dataclass(frozen=True)
class RetryFilters:
    """What the retry queue is filtered by (status None: pending, claimed and dead).

    ``ids`` (ticked rows) drops the default status set, so rows already retried
    or discarded still match and can be counted as such. ``group`` is an error
    group key (``app.errorgroups``).
    """

    page: int = 1
    per_page: int = 20
    status: str | None = None
    job_id: uuid.UUID | None = None
    q: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    job_name: str | None = None
    task: str | None = None
    queue: str | None = None
    triggered_by: str | None = None
    run_status: str | None = None
    scheduled_since: datetime | None = None
    scheduled_until: datetime | None = None
    started_since: datetime | None = None
    started_until: datetime | None = None
    group: str | None = None
    ids: tuple[uuid.UUID, ...] | None = None
    newest_first: bool = False


def visible(user: User) -> Select[RetryItem]:
    """Items of jobs this user may see (deleted jobs' items stay visible)."""
    query = select(RetryItem)
    if access.sees_all(user):
        return query
    return query.where(RetryItem.job_id.in_(access.visible_job_ids(user)))


def _run_conditions(filters: RetryFilters) -> list[ColumnElement[bool]]:
    """SQL on ``Execution`` (the failed run): its outcome, trigger, and slot or start window."""
    conditions: list[ColumnElement[bool]] = []
    if filters.triggered_by:
        conditions.append(Execution.triggered_by == filters.triggered_by)
    if filters.run_status:
        conditions.append(Execution.status == filters.run_status)
    windows = (
        (Execution.scheduled_for, filters.scheduled_since, filters.scheduled_until),
        (Execution.started_at, filters.started_since, filters.started_until),
    )
    for column, start, end in windows:
        if start is not None:
            conditions.append(column >= start)
        if end is not None:
            conditions.append(column < end)
    return conditions


def _item_conditions(filters: RetryFilters) -> list[ColumnElement[bool]]:
    """SQL on ``RetryItem`` alone."""
    conditions: list[ColumnElement[bool]] = []
    if filters.status is not None:
        conditions.append(RetryItem.status == filters.status)
    elif filters.ids is None:
        conditions.append(RetryItem.status.in_(WAITING))
    if filters.ids is not None:
        conditions.append(RetryItem.id.in_(list(filters.ids)[:MAX_IDS]))
    if filters.job_id is not None:
        conditions.append(RetryItem.job_id == filters.job_id)
    if filters.q:
        conditions.append(contains(RetryItem.last_error, filters.q))
    if filters.group is not None:
        conditions.append(RetryItem.error_group == filters.group)
    if filters.since is not None:
        conditions.append(RetryItem.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(RetryItem.created_at < filters.until)
    return conditions


def filtered(user: User, filters: RetryFilters) -> Select[RetryItem]:
    """The visible items matching every filter given."""
    query = visible(user).where(*_item_conditions(filters))
    on_job = job_conditions(filters.job_name, filters.task, filters.queue)
    if on_job:
        query = query.where(RetryItem.job_id.in_(select(ScheduledJob.id).where(*on_job)))
    on_run = _run_conditions(filters)
    if on_run:
        query = query.where(RetryItem.execution_id.in_(select(Execution.id).where(*on_run)))
    return query


def list_items(session: DbSession, user: User, filters: RetryFilters) -> Page[RetryItem]:
    """A page of retry items and the total: the soonest due first, or the newest first."""
    query = filtered(user, filters).options(
        joinedload(RetryItem.job), joinedload(RetryItem.execution)
    )
    order = (
        (RetryItem.created_at.desc(), RetryItem.id.desc())
        if filters.newest_first
        else (RetryItem.next_try_at, RetryItem.id)
    )
    return page_of(session, query, order, filters.page, filters.per_page)


def get_item(session: DbSession, user: User, item: RetryItem | uuid.UUID) -> RetryItem:
    """One item (or its id) of a job this user may see, else NotFound."""
    item_id = item if isinstance(item, uuid.UUID) else item.id
    row: RetryItem | None = session.scalar(visible(user).where(RetryItem.id == item_id))
    if row is None:
        raise NotFound(_("No such retry item."))
    return row


__all__ = ["WAITING", "RetryFilters", "filtered", "get_item", "list_items", "visible"]
