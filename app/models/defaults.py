"""Defaults for new jobs: one row, chosen by an admin on the settings page."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.enums import Backoff
from app.models.types import UTCDateTime, utcnow

# The one row's key: a table of one row keeps typed, constrained columns (unlike key/value).
DEFAULTS_ROW_ID = 1


class JobDefaults(db.Model):  # type: ignore[name-defined,misc]
    """What a new job gets for the fields its creator leaves out.

    ``timezone`` and ``queue`` may be empty: no zone means the form offers the
    creator's display zone (UTC through the API), no queue means the task's own.
    """

    __tablename__ = "job_defaults"

    id: Mapped[int] = mapped_column(primary_key=True, default=DEFAULTS_ROW_ID)
    timezone: Mapped[str | None] = mapped_column(String(64))
    retry_count: Mapped[int] = mapped_column(default=0)
    retry_backoff: Mapped[str] = mapped_column(String(12), default=Backoff.EXPONENTIAL.value)
    retry_delay_seconds: Mapped[int] = mapped_column(default=60)
    retry_max_delay_seconds: Mapped[int] = mapped_column(default=3600)
    misfire_grace_seconds: Mapped[int] = mapped_column(default=60)
    max_instances: Mapped[int] = mapped_column(default=1)
    queue: Mapped[str | None] = mapped_column(String(50))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
