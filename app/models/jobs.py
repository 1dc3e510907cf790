"""What can run (task functions, job types) and what is scheduled (jobs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.enums import Backoff, JobStatus, MisfirePolicy, OverlapPolicy
from app.models.types import UTCDateTime, utcnow


class TaskFunction(db.Model):  # type: ignore[name-defined,misc]
    """A registered task; rows mirror the code registry, never user input."""

    __tablename__ = "task_functions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    handler_path: Mapped[str] = mapped_column(String(500))
    handler_type: Mapped[str] = mapped_column(String(20))
    queue: Mapped[str] = mapped_column(String(50), default="default")
    default_timeout_seconds: Mapped[int] = mapped_column(default=300)
    args_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    is_system: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class JobType(db.Model):  # type: ignore[name-defined,misc]
    """Lookup of trigger kinds: interval, cron, date."""

    __tablename__ = "job_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(default=True)


class ScheduledJob(db.Model):  # type: ignore[name-defined,misc]
    """A job definition: what to run, when, and how to handle trouble."""

    __tablename__ = "scheduled_jobs"
    __table_args__ = (
        Index("ix_scheduled_jobs_status_next_run", "status", "next_run_time"),
        Index("ix_scheduled_jobs_next_run_time", "next_run_time"),
        Index("ix_scheduled_jobs_owner_id", "owner_id"),
        Index("ix_scheduled_jobs_task_function_id", "task_function_id"),
        Index("ix_scheduled_jobs_deleted_at", "deleted_at"),
        # The jobs table's default order (name, then id): a page without sorting every job.
        Index("ix_scheduled_jobs_name_id", "name", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    task_function_id: Mapped[int] = mapped_column(ForeignKey("task_functions.id"))
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_types.id"))
    schedule_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    jitter_seconds: Mapped[int] = mapped_column(default=0)
    task_args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    queue: Mapped[str | None] = mapped_column(String(50))

    max_instances: Mapped[int] = mapped_column(default=1)
    overlap_policy: Mapped[str] = mapped_column(String(10), default=OverlapPolicy.SKIP.value)
    misfire_policy: Mapped[str] = mapped_column(String(10), default=MisfirePolicy.RUN_ONCE.value)
    misfire_grace_seconds: Mapped[int] = mapped_column(default=60)
    timeout_seconds: Mapped[int] = mapped_column(default=300)

    retry_count: Mapped[int] = mapped_column(default=0)
    retry_delay_seconds: Mapped[int] = mapped_column(default=60)
    retry_backoff: Mapped[str] = mapped_column(String(12), default=Backoff.EXPONENTIAL.value)
    retry_max_delay_seconds: Mapped[int] = mapped_column(default=3600)
    retry_jitter_seconds: Mapped[int] = mapped_column(default=0)
    max_consecutive_failures: Mapped[int] = mapped_column(default=0)

    is_enabled: Mapped[bool] = mapped_column(default=True)
    is_paused: Mapped[bool] = mapped_column(default=False)
    paused_reason: Mapped[str | None] = mapped_column(String(500))
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.ACTIVE.value)
    next_run_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(12))
    consecutive_failures: Mapped[int] = mapped_column(default=0)

    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    task_function: Mapped[TaskFunction] = relationship(lazy="joined")
    job_type: Mapped[JobType] = relationship(lazy="joined")

    @property
    def effective_queue(self) -> str:
        """The queue runs go to: the job's own, else its task's."""
        return self.queue or self.task_function.queue

    def derive_status(self) -> str:
        """Status from the flags; a job marked failed stays failed until resumed."""
        if not self.is_enabled:
            return JobStatus.DISABLED.value
        if self.is_paused:
            return JobStatus.PAUSED.value
        if self.status == JobStatus.FAILED:
            return JobStatus.FAILED.value
        return JobStatus.ACTIVE.value

    @property
    def shown_status(self) -> str:
        """The status as shown: a one-off that has run and will not fire again is "finished"."""
        if (
            self.status == JobStatus.ACTIVE
            and self.job_type.name == "date"
            and self.last_run_time is not None
            and self.next_run_time is None
        ):
            return JobStatus.FINISHED.value
        return self.status

    @property
    def is_schedulable(self) -> bool:
        """True when the scheduler should fire this job's slots."""
        return self.deleted_at is None and self.derive_status() == JobStatus.ACTIVE


# Job names are unique per owner, whatever the case, among jobs not deleted
# (migration 0004). The service answers a clash with a 409 before this fires.
LIVE_JOBS = text("deleted_at IS NULL")
Index(
    "uq_scheduled_jobs_owner_name",
    ScheduledJob.owner_id,
    func.lower(ScheduledJob.name),
    unique=True,
    sqlite_where=LIVE_JOBS,
    postgresql_where=LIVE_JOBS,
)
