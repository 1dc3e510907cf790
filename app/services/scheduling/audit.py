"""The audit trail, read per job or globally, newest first (keyset pages).

Who may read what follows the job (``access``): an event is visible when
its job is; admins see every event, including those of webhooks, users,
tokens and settings (see ``audit_trail`` for how they are written).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute

from app.extensions import DbSession
from app.i18n import _
from app.models import ApiToken, AuditEvent, ScheduledJob, TaskFunction, User, Webhook
from app.services import access, audit_trail, keyset
from app.services.errors import Forbidden
from app.services.paging import Page

_KIND = "audit"
# Everyone the user filter offers (a handful of people, not thousands).
_USERS = select(User.id, User.email).order_by(User.email)


def list_events(
    session: DbSession,
    user: User,
    *,
    job_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = 50,
    user_id: uuid.UUID | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | None = None,
) -> Page[AuditEvent]:
    """A page of audit events the user may see, of one job or all, newest first.

    ``user_id`` and ``action`` narrow it to what one person did, or one kind of change;
    ``object_type`` and ``object_id`` to one kind of object, or one object of any kind.
    """
    keyset.check_limit(limit)
    query = _visible(user)
    if job_id is not None:
        query = query.where(AuditEvent.job_id == job_id)
    if object_type is not None:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == object_id)
        if object_type is None:  # every type: ix_audit_events_object still finds the object
            query = query.where(AuditEvent.object_type.in_(audit_trail.OBJECT_TYPES))
    if user_id is not None:
        query = query.where(AuditEvent.user_id == user_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    query = keyset.newest_first(
        query, AuditEvent.created_at, AuditEvent.id, _KIND, cursor, limit + 1
    )
    return keyset.page(session, query, limit, _key, _KIND)


@dataclass(frozen=True)
class TrailFilters:
    """The audit page's filters: who, which kind of object or which one, what kind of change."""

    user_id: uuid.UUID | None = None
    object_type: str | None = None
    object_id: uuid.UUID | None = None
    action: str | None = None


@dataclass(frozen=True)
class Trail:
    """A page of the whole trail with the names it mentions (users' e-mails, jobs' names,
    webhooks' URLs, tokens' names)."""

    page: Page[AuditEvent]
    emails: dict[uuid.UUID, str]
    jobs: dict[uuid.UUID, tuple[str, dict[str, Any]]]  # name, its task's argument schema
    users: list[tuple[uuid.UUID, str]]
    webhooks: dict[uuid.UUID, str] = field(default_factory=dict)
    tokens: dict[uuid.UUID, str] = field(default_factory=dict)


def admin_trail(
    session: DbSession, user: User, filters: TrailFilters, cursor: str | None, limit: int
) -> Trail:
    """The audit log page: every event, filtered, newest first; admins only."""
    access.require_admin(user, _("Only admins may read the audit log."))
    page = list_events(
        session,
        user,
        cursor=cursor,
        limit=limit,
        user_id=filters.user_id,
        action=filters.action,
        object_type=filters.object_type,
        object_id=filters.object_id,
    )
    job_ids = {e.job_id for e in page.items if e.job_id}
    named = session.execute(
        select(ScheduledJob.id, ScheduledJob.name, TaskFunction.args_schema)
        .join(TaskFunction, TaskFunction.id == ScheduledJob.task_function_id)
        .where(ScheduledJob.id.in_(job_ids))
    )
    users = [(user_id, email) for user_id, email in session.execute(_USERS)]
    return Trail(
        page,
        dict(users),
        {job_id: (name, schema or {}) for job_id, name, schema in named},
        users,
        _names(session, page.items, audit_trail.WEBHOOK, Webhook.id, Webhook.url),
        _names(session, page.items, audit_trail.TOKEN, ApiToken.id, ApiToken.name),
    )


def _names(
    session: DbSession,
    events: list[AuditEvent],
    object_type: str,
    id_column: InstrumentedAttribute[uuid.UUID],
    name_column: InstrumentedAttribute[str],
) -> dict[uuid.UUID, str]:
    """What the page calls the events' objects of one type (one query; gone ones left out)."""
    ids = {e.object_id for e in events if e.object_type == object_type and e.object_id}
    if not ids:
        return {}
    rows = session.execute(select(id_column, name_column).where(id_column.in_(ids)))
    return {object_id: name for object_id, name in rows}


def _key(event: AuditEvent) -> tuple[datetime, uuid.UUID]:
    return event.created_at, event.id


def _visible(user: User) -> Select[AuditEvent]:
    """Events of jobs the user may see; every event for admins."""
    if _is_admin(user):
        return select(AuditEvent)
    return select(AuditEvent).where(AuditEvent.job_id.in_(access.visible_job_ids(user)))


def _is_admin(user: User) -> bool:
    """The admin rule as ``access`` writes it."""
    try:
        access.require_admin(user)
    except Forbidden:
        return False
    return True
