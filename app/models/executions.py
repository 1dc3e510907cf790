"""Runs of jobs (executions) and the retry table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, Uuid, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.errorgroups import group_key
from app.extensions import db
from app.models.enums import ExecutionStatus, RetryStatus, TriggeredBy
from app.models.jobs import ScheduledJob
from app.models.types import UTCDateTime, utcnow

_SCHEDULER_ONLY = text("triggered_by = 'scheduler'")
_RETRIES_ONLY = text("triggered_by = 'retry'")
# SQLite matches a partial index only on the query's own spelling of the
# condition, and SQLAlchemy writes a boolean test as "held = 1" there.
_HELD_SQLITE = text("held = 1")
_HELD_PG = text("held")


class Execution(db.Model):  # type: ignore[name-defined,misc]
    """One run of a job, or one slot that was skipped or missed."""

    __tablename__ = "executions"
    __table_args__ = (
        # The ledger: a slot fired by the scheduler exists at most once, so a
        # second scheduler, a redelivered message or a restart is a no-op.
        # Manual runs and retries may share the slot's time, hence partial.
        Index(
            "uq_executions_job_slot",
            "job_id",
            "scheduled_for",
            unique=True,
            sqlite_where=_SCHEDULER_ONLY,
            postgresql_where=_SCHEDULER_ONLY,
        ),
        # History reads newest first, keyset-paged on (time, id): all runs, or
        # one job's, by when they were created or by the slot they stand for.
        Index("ix_executions_created_id", "created_at", "id"),
        Index("ix_executions_job_created", "job_id", "created_at", "id"),
        Index("ix_executions_scheduled_id", "scheduled_for", "id"),
        Index("ix_executions_job_scheduled", "job_id", "scheduled_for", "id"),
        # The calendar's run counts per day or hour and outcome (an index-only scan).
        Index("ix_executions_scheduled_status", "scheduled_for", "status"),
        # Held runs are few; the overlap rule looks them up per job, oldest first.
        Index(
            "ix_executions_held",
            "job_id",
            "scheduled_for",
            sqlite_where=_HELD_SQLITE,
            postgresql_where=_HELD_PG,
        ),
        Index("ix_executions_status", "status"),
        Index("ix_executions_started_at", "started_at"),
        Index("ix_executions_retry_of", "retry_of"),
        # A failed run is retried at most once: two retry processes claiming the
        # same retry item can never both start an attempt.
        Index(
            "uq_executions_retry_of",
            "retry_of",
            unique=True,
            sqlite_where=_RETRIES_ONLY,
            postgresql_where=_RETRIES_ONLY,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduled_jobs.id", ondelete="CASCADE"))
    rq_job_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12), default=ExecutionStatus.PENDING.value)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempt: Mapped[int] = mapped_column(default=1)
    retry_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("executions.id", ondelete="SET NULL")
    )
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[float | None] = mapped_column()
    result: Mapped[Any | None] = mapped_column(JSON)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    log_output: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column()
    triggered_by: Mapped[str] = mapped_column(String(10), default=TriggeredBy.SCHEDULER.value)
    triggered_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    worker_name: Mapped[str | None] = mapped_column(String(255))
    scheduler_instance_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scheduler_instances.id", ondelete="SET NULL")
    )
    reason: Mapped[str | None] = mapped_column(String(500))
    # Pending, but kept back until the job has a free instance (overlap policy
    # queue, or a catch-up run waiting its turn); ``reason`` says why.
    held: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    job: Mapped[ScheduledJob] = relationship()


class RetryItem(db.Model):  # type: ignore[name-defined,misc]
    """A failed execution waiting for its next attempt (or dead: no attempt left)."""

    __tablename__ = "retry_items"
    __table_args__ = (
        Index("ix_retry_items_status_next_try", "status", "next_try_at"),
        # A job's retries take turns: the claim asks, per due item, whether an
        # older one of its job is due or one is launching. Led by the job, so
        # the plan needs no statistics (a burst of new items has none yet).
        Index("ix_retry_items_job_status_next_try", "job_id", "status", "next_try_at"),
        # One item per failed execution: a failure is retried (or buried) once.
        Index("uq_retry_items_execution_id", "execution_id", unique=True),
        Index("ix_retry_items_retry_execution_id", "retry_execution_id"),
        # The failed-tasks page groups open items by their error's key.
        Index("ix_retry_items_status_group", "status", "error_group"),
        # ... and lists them newest first, a page at a time.
        Index("ix_retry_items_created_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduled_jobs.id", ondelete="CASCADE"))
    # The attempt number the retry will run as (the failed one's + 1).
    attempt: Mapped[int] = mapped_column()
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default=RetryStatus.PENDING.value)
    last_error: Mapped[str | None] = mapped_column(Text)
    # ``last_error`` normalised (app.errorgroups): failures of one cause share it.
    error_group: Mapped[str | None] = mapped_column(String(255))
    # Attempts in this chain whose worker died: a poison pill goes dead after a few.
    abandoned: Mapped[int] = mapped_column(default=0)
    # The execution the retry started (once done).
    retry_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("executions.id", ondelete="SET NULL")
    )
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    execution: Mapped[Execution] = relationship(foreign_keys=[execution_id])
    job: Mapped[ScheduledJob] = relationship()

    @validates("last_error")
    def _keep_group(self, _key: str, value: str | None) -> str | None:
        """Every change of the error moves the item to its group (one rule, every writer)."""
        self.error_group = group_key(value)
        return value
