"""Who changed which job, webhook, user, token or setting, when, and what changed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    """One change to an object (``object_type``/``object_id``), with a field-by-field diff.

    ``job_id`` is set only for job events: the job page's slice and its cascade use it.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_job_created", "job_id", "created_at"),
        # The global trail, keyset-paged newest first.
        Index("ix_audit_events_created_id", "created_at", "id"),
        # The audit page's object filters: one object (of a type), or one type, newest first.
        Index("ix_audit_events_object", "object_type", "object_id", "created_at"),
        Index("ix_audit_events_type_created", "object_type", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scheduled_jobs.id", ondelete="CASCADE")
    )
    object_type: Mapped[str] = mapped_column(String(20), default="job", server_default="job")
    object_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(30))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
