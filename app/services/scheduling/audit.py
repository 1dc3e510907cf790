"""The audit trail, read per job or globally, newest first (keyset pages).

Who may read what follows the job (``access``): an event is visible when
its job is; admins see every event, including any not tied to a job.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select

from app.extensions import DbSession
from app.models import AuditEvent, User
from app.services import access, keyset
from app.services.errors import Forbidden
from app.services.paging import Page

_KIND = "audit"


def list_events(
    session: DbSession,
    user: User,
    *,
    job_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[AuditEvent]:
    """A page of audit events the user may see, of one job or all, newest first."""
    keyset.check_limit(limit)
    query = _visible(user)
    if job_id is not None:
        query = query.where(AuditEvent.job_id == job_id)
    query = keyset.newest_first(
        query, AuditEvent.created_at, AuditEvent.id, _KIND, cursor, limit + 1
    )
    return keyset.page(session, query, limit, _key, _KIND)


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
