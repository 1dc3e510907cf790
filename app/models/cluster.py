"""Running Almanac processes and the scheduler leader lease."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class SchedulerInstance(db.Model):  # type: ignore[name-defined,misc]
    """A scheduler, worker or retry process, kept fresh by heartbeats."""

    __tablename__ = "scheduler_instances"
    __table_args__ = (
        Index("ix_scheduler_instances_role_heartbeat", "role", "last_heartbeat"),
        Index("ix_scheduler_instances_is_leader", "is_leader"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column()
    role: Mapped[str] = mapped_column(String(10))
    is_leader: Mapped[bool] = mapped_column(default=False)
    leader_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_heartbeat: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[str] = mapped_column(String(50))


class LeaderLease(db.Model):  # type: ignore[name-defined,misc]
    """The one row a scheduler must hold to arm or record anything.

    ``token`` grows by one at every change of holder: a fencing token, so a
    paused ex-leader whose lease lapsed is refused even if it wakes up late.
    """

    __tablename__ = "leader_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    token: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
