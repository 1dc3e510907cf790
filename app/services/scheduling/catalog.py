"""The lookup tables: job types and the task functions registered in code."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import DbSession
from app.models import JobType, TaskFunction
from app.tasks import TaskSpec, registry

JOB_TYPES = (
    ("interval", "Interval", "Every fixed amount of elapsed time"),
    ("cron", "Cron", "On a cron expression, in the job's time zone"),
    ("date", "One-off", "Once, at a given date and time"),
)


def ensure_job_types(session: DbSession) -> None:
    """Insert the job types that are missing (idempotent)."""
    present = set(session.scalars(select(JobType.name)))
    for name, display, description in JOB_TYPES:
        if name not in present:
            session.add(JobType(name=name, display_name=display, description=description))
    session.flush()


def _apply(row: TaskFunction, spec: TaskSpec) -> None:
    """Copy a registered task's declaration onto its row."""
    row.display_name = spec.display_name
    row.description = spec.description
    row.handler_path = spec.handler_path
    row.handler_type = spec.handler_type
    row.queue = spec.queue
    row.default_timeout_seconds = spec.timeout_seconds
    row.args_schema = spec.args_schema
    row.is_system = spec.is_system
    row.is_active = True


def sync_task_functions(session: DbSession) -> dict[str, int]:
    """Make the TaskFunction table mirror the code registry; returns counts."""
    rows = {row.name: row for row in session.scalars(select(TaskFunction))}
    counts = {"added": 0, "updated": 0, "deactivated": 0}
    for spec in registry:
        row = rows.pop(spec.name, None)
        if row is None:
            row = TaskFunction(name=spec.name)
            session.add(row)
            counts["added"] += 1
        else:
            counts["updated"] += 1
        _apply(row, spec)
    # Rows whose code is gone stay for history, but can no longer be chosen.
    for row in rows.values():
        if row.is_active:
            row.is_active = False
            counts["deactivated"] += 1
    session.flush()
    return counts


def task_function_row(session: DbSession, name: str) -> TaskFunction:
    """The row of a registered task, created on first use if start-up sync missed it."""
    row = session.scalar(select(TaskFunction).where(TaskFunction.name == name))
    if row is None:
        row = TaskFunction(name=name)
        _apply(row, registry.get(name))
        session.add(row)
        session.flush()
    return row


def ensure_catalog(session: DbSession) -> None:
    """Job types and task functions, both up to date."""
    ensure_job_types(session)
    sync_task_functions(session)


def active_task_functions(session: DbSession) -> list[TaskFunction]:
    """The task functions a job may use, by name."""
    query = select(TaskFunction).where(TaskFunction.is_active).order_by(TaskFunction.name)
    return list(session.scalars(query))


def active_job_types(session: DbSession) -> list[JobType]:
    """The trigger kinds a job may use."""
    return list(session.scalars(select(JobType).where(JobType.is_active).order_by(JobType.id)))
