"""Writing the audit trail: one event per change, in the change's own transaction.

Every service that changes a job, webhook, user, token or setting calls
``record`` before it commits, so an event exists exactly when its change
does. Secrets, passwords and tokens never reach ``changes``: the caller
writes ``ROTATED`` (or nothing) in their place.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.extensions import DbSession
from app.models import AuditEvent, User, utcnow

JOB, WEBHOOK, USER, TOKEN, SETTINGS = "job", "webhook", "user", "token", "settings"
OBJECT_TYPES = (JOB, WEBHOOK, USER, TOKEN, SETTINGS)
# Every action the services record (the audit page's action filter offers these).
ACTIONS = (
    "created",
    "updated",
    "deleted",
    "pause",
    "resume",
    "enable",
    "disable",
    "failed",
    "secret_rotated",
    "role_changed",
    "password_reset",
    "password_changed",
    "revoked",
    "job_defaults_updated",
)
# What the trail says in place of a new secret.
ROTATED = "rotated"


def record(
    session: DbSession,
    actor: User | None,
    object_type: str,
    object_id: uuid.UUID | None,
    action: str,
    changes: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Add one event (the caller commits); ``actor`` None is the system or the command line.

    A job's event also carries ``job_id``, so it shows on the job's page and goes with the job.
    """
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"unknown audit object type {object_type!r}")
    event = AuditEvent(
        object_type=object_type,
        object_id=object_id,
        job_id=object_id if object_type == JOB else None,
        user_id=actor.id if actor is not None else None,
        action=action,
        changes=_plain(changes or {}),
        created_at=now or utcnow(),
    )
    session.add(event)
    return event


def _plain(value: Any) -> Any:
    """``value`` as JSON can store it (ids and instants as text)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, uuid.UUID | datetime):
        return str(value)
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: {"from": old, "to": new}}`` for each field whose value changed."""
    return {
        name: {"from": before.get(name), "to": value}
        for name, value in after.items()
        if before.get(name) != value
    }


__all__ = ["ACTIONS", "OBJECT_TYPES", "ROTATED", "diff", "record"]
