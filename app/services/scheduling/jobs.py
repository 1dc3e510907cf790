"""Creating, changing, listing and acting on scheduled jobs.

Every write here is whole: it checks the user may (``access``), validates
(``job_fields``), writes, commits, and then tells the scheduler (a
``Notifier``) so the change takes effect at once rather than at the next
reconcile pass. Front doors call one function and render its result.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select

from app import instants
from app.extensions import DbSession
from app.i18n import N_, _
from app.models import (
    Execution,
    ExecutionStatus,
    JobStatus,
    JobType,
    ScheduledJob,
    TaskFunction,
    TriggeredBy,
    User,
)
from app.services import access, audit_trail
from app.services.effects import Notifier, commit_and_notify
from app.services.errors import Conflict, Invalid, NotFound, ServiceError, Unavailable
from app.services.ledger import runs
from app.services.ledger.recurrence import Recurrence
from app.services.paging import contains
from app.services.scheduling import schedule, sensitive
from app.services.scheduling.job_fields import (
    name_race_as_conflict,
    normalize_fields,
    require_unique_name,
)


@dataclass(frozen=True)
class JobFilters:
    """What GET /jobs filters and sorts by."""

    page: int = 1
    per_page: int = 20
    q: str | None = None
    status: str | None = None
    task_function: str | None = None
    job_type: str | None = None
    owner_id: uuid.UUID | None = None
    last_status: str | None = None
    sort: str = "name"


@dataclass(frozen=True)
class JobPage:
    """One page of jobs with counts over the filtered set."""

    jobs: list[ScheduledJob]
    total: int
    enabled_count: int
    disabled_count: int
    running_count: int


JobRef = ScheduledJob | uuid.UUID


def get_job(session: DbSession, user: User, job_id: uuid.UUID) -> ScheduledJob:
    """A job this user may see, else NotFound (never revealing others' jobs)."""
    job: ScheduledJob | None = session.scalar(
        access.visible_jobs(user).where(ScheduledJob.id == job_id)
    )
    if job is None:
        raise NotFound(_("No such job."))
    return job


def _load(session: DbSession, user: User, job: JobRef) -> ScheduledJob:
    """A job (or its id) this user may see and that is not deleted, else NotFound."""
    if isinstance(job, uuid.UUID):
        return get_job(session, user, job)
    if job.deleted_at is not None or not access.can_see_job(user, job):
        raise NotFound(_("No such job."))
    return job


def create_job(
    session: DbSession,
    user: User,
    data: dict[str, Any],
    now: datetime,
    notifier: Notifier | None = None,
) -> ScheduledJob:
    """Validate and store a new job owned by ``user`` (or by ``owner_id`` for admins); commit."""
    access.require_writer(user, _("Viewers cannot change jobs."))
    values = normalize_fields(session, data, None, now, _task_rule(user))
    owner_id = values.pop("owner_id", None) or user.id
    _check_owner(session, user, owner_id)
    require_unique_name(session, owner_id, values["name"])
    job = ScheduledJob(**values, owner_id=owner_id, created_by=user.id, updated_by=user.id)
    job.created_at = job.updated_at = now
    session.add(job)
    with name_race_as_conflict(session, job.name):
        session.flush()
    _refresh_schedule(job, now)
    _audit(session, job, user, "created", {k: _jsonable(v) for k, v in values.items()}, now)
    commit_and_notify(session, notifier, [job.id])
    return job


def update_job(
    session: DbSession,
    user: User,
    job: JobRef,
    data: dict[str, Any],
    now: datetime,
    notifier: Notifier | None = None,
) -> ScheduledJob:
    """Apply a partial update (PUT and PATCH alike); only changed fields are audited; commit."""
    job = _load(session, user, job)
    access.require_job_change(user, job, _("Viewers cannot change jobs."))
    values = normalize_fields(session, data, job, now, _task_rule(user))
    if "owner_id" in values:
        values["owner_id"] = values["owner_id"] or user.id
        _check_owner(session, user, values["owner_id"])
    if "owner_id" in values or "name" in values:
        owner_id = values.get("owner_id", job.owner_id)
        require_unique_name(session, owner_id, values.get("name", job.name), job.id)
    changes = {}
    for key, value in values.items():
        old = getattr(job, key)
        if old != value:
            changes[key] = {"from": _jsonable(old), "to": _jsonable(value)}
            setattr(job, key, value)
    if changes:
        job.updated_by = user.id
        job.updated_at = now
        job.status = job.derive_status()
        _refresh_schedule(job, now)
        _audit(session, job, user, "updated", changes, now)
    with name_race_as_conflict(session, job.name):
        commit_and_notify(session, notifier, [job.id] if changes else [])
    return job


def delete_job(
    session: DbSession, user: User, job: JobRef, now: datetime, notifier: Notifier | None = None
) -> None:
    """Soft-delete: the row and its history stay, the job never fires again; commit."""
    job = _load(session, user, job)
    _delete(session, user, job, now)
    commit_and_notify(session, notifier, [job.id])


def _delete(session: DbSession, user: User, job: ScheduledJob, now: datetime) -> str:
    access.require_job_change(user, job, _("Viewers cannot change jobs."))
    job.deleted_at = now
    job.next_run_time = None
    job.updated_by = user.id
    _audit(session, job, user, "deleted", {}, now)
    return _("Job deleted.")


def apply_action(
    session: DbSession,
    user: User,
    job: JobRef,
    action: str,
    now: datetime,
    reason: str | None = None,
    resume_at: datetime | None = None,
    notifier: Notifier | None = None,
) -> str:
    """Pause, resume, enable or disable a job and commit; returns a message for the user."""
    job = _load(session, user, job)
    message = change_state(session, user, job, action, now, reason, resume_at)
    commit_and_notify(session, notifier, [job.id])
    return message


def change_state(
    session: DbSession,
    user: User,
    job: ScheduledJob,
    action: str,
    now: datetime,
    reason: str | None = None,
    resume_at: datetime | None = None,
) -> str:
    """One state change without committing (``apply_action`` and bulk actions share it)."""
    access.require_job_change(user, job, _("Viewers cannot change jobs."))
    if action == "delete":
        return _delete(session, user, job, now)
    handler, message = _ACTIONS[action]
    details = handler(job, now, reason, resume_at)
    job.status = job.derive_status()
    job.updated_by = user.id
    job.updated_at = now
    _refresh_schedule(job, now)
    _audit(session, job, user, action, details, now)
    return _(message)


def run_now(
    session: DbSession,
    user: User,
    job: JobRef,
    via: TriggeredBy,
    now: datetime,
    recurrence: Recurrence,
) -> Execution:
    """Run now: a new execution straight into the queue, also for a paused job."""
    job = _load(session, user, job)
    access.require_job_change(user, job, _("Viewers cannot run jobs."))
    try:
        return runs.trigger(session, recurrence, job, user, via, now)
    except ServiceError as error:
        raise Unavailable(error.message) from None


def _task_rule(user: User) -> Callable[[TaskFunction], None]:
    """The system-task rule, applied to the task a create or an update chooses."""
    return lambda task: access.require_task_allowed(user, task)


def _pause(
    job: ScheduledJob, now: datetime, reason: str | None, resume_at: datetime | None
) -> dict[str, Any]:
    # A resume time without offset is UTC (the rule in ``instants``), whichever door sent it.
    resume_at = None if resume_at is None else instants.as_utc(resume_at)
    if resume_at is not None and resume_at <= now:
        raise Invalid(
            _("The resume time must be in the future."), {"resume_at": _("must be in the future")}
        )
    job.is_paused = True
    job.paused_reason = reason
    job.resume_at = resume_at
    return {"reason": reason, "resumeAt": _jsonable(resume_at)}


def _resume(job: ScheduledJob, *_unused: Any) -> dict[str, Any]:
    if not job.is_paused and job.status != JobStatus.FAILED:
        raise Conflict(_("The job is not paused."))
    job.is_paused = False
    job.paused_reason = None
    job.resume_at = None
    # Resuming a job stopped for repeated failures gives it a clean slate.
    job.status = JobStatus.ACTIVE.value
    job.consecutive_failures = 0
    return {}


def _set_enabled(enabled: bool) -> Any:
    def handler(job: ScheduledJob, *_unused: Any) -> dict[str, Any]:
        job.is_enabled = enabled
        return {}

    return handler


_ACTIONS = {
    "pause": (_pause, N_("Job paused.")),
    "resume": (_resume, N_("Job resumed.")),
    "enable": (_set_enabled(True), N_("Job enabled.")),
    "disable": (_set_enabled(False), N_("Job disabled.")),
}


def list_jobs(session: DbSession, user: User, filters: JobFilters) -> JobPage:
    """A filtered, sorted page of the jobs this user may see."""
    query = _filtered(user, filters)
    ids = query.with_only_columns(ScheduledJob.id).subquery()
    # Counted in the filtered query itself: one scan of the jobs, not a join with itself.
    counts = query.with_only_columns(
        func.count(), func.count().filter(ScheduledJob.is_enabled), maintain_column_froms=True
    )
    total, enabled = session.execute(counts).one()
    running = session.scalar(
        select(func.count(func.distinct(Execution.job_id))).where(
            Execution.job_id.in_(select(ids.c.id)),
            Execution.status == ExecutionStatus.RUNNING.value,
        )
    )
    rows = session.scalars(
        _sorted(query, filters.sort)
        .offset((filters.page - 1) * filters.per_page)
        .limit(filters.per_page)
    ).all()
    return JobPage(list(rows), total, enabled, total - enabled, running or 0)


def matching_jobs(
    session: DbSession, user: User, filters: JobFilters, limit: int
) -> list[ScheduledJob]:
    """Up to ``limit`` visible jobs matching the filters, in the filters' order (no paging)."""
    return list(session.scalars(_sorted(_filtered(user, filters), filters.sort).limit(limit)))


def _filtered(user: User, filters: JobFilters) -> Select[ScheduledJob]:
    query = access.visible_jobs(user)
    if filters.q:
        description = func.coalesce(ScheduledJob.description, "")
        query = query.where(
            contains(ScheduledJob.name, filters.q) | contains(description, filters.q)
        )
    if filters.status:
        query = query.where(_status_is(filters.status))
    if filters.task_function:
        query = query.join(TaskFunction).where(TaskFunction.name == filters.task_function)
    if filters.job_type:
        query = query.join(JobType).where(JobType.name == filters.job_type)
    if filters.owner_id:
        query = query.where(ScheduledJob.owner_id == filters.owner_id)
    if filters.last_status:
        query = query.where(ScheduledJob.last_status == filters.last_status)
    return query


def _status_is(status: str) -> ColumnElement[bool]:
    """The shown status in SQL: "finished" is an active one-off that ran and will not fire."""
    finished = (
        (ScheduledJob.status == JobStatus.ACTIVE.value)
        & ScheduledJob.job_type_id.in_(select(JobType.id).where(JobType.name == "date"))
        & ScheduledJob.last_run_time.is_not(None)
        & ScheduledJob.next_run_time.is_(None)
    )
    if status == JobStatus.FINISHED:
        return finished
    if status == JobStatus.ACTIVE:
        return (ScheduledJob.status == status) & ~finished
    return ScheduledJob.status == status


_SORT_COLUMNS = {
    "name": ScheduledJob.name,
    "createdAt": ScheduledJob.created_at,
    "updatedAt": ScheduledJob.updated_at,
    "nextRunTime": ScheduledJob.next_run_time,
    "lastRunTime": ScheduledJob.last_run_time,
    "status": ScheduledJob.status,
    "timezone": ScheduledJob.timezone,
}


def _sorted(query: Select[ScheduledJob], sort: str) -> Select[ScheduledJob]:
    column = _SORT_COLUMNS[sort.lstrip("-")]
    order = column.desc().nulls_last() if sort.startswith("-") else column.asc().nulls_last()
    return query.order_by(order, ScheduledJob.id)


def recent_executions(session: DbSession, job: ScheduledJob, limit: int = 10) -> list[Execution]:
    """The job's latest executions, newest first."""
    return list(
        session.scalars(
            select(Execution)
            .where(Execution.job_id == job.id)
            .order_by(Execution.created_at.desc())
            .limit(limit)
        )
    )


def _refresh_schedule(job: ScheduledJob, now: datetime) -> None:
    """Keep ``next_run_time`` true after any change."""
    job.next_run_time = schedule.next_run(job, now)


def _check_owner(session: DbSession, user: User, owner_id: uuid.UUID) -> None:
    access.require_owner_change(user, owner_id)
    if session.get(User, owner_id) is None:
        raise Invalid(_("No such owner."), {"owner_id": _("no such user")})


def _audit(
    session: DbSession,
    job: ScheduledJob,
    user: User,
    action: str,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    changes = _redacted(session, job, action, changes)
    audit_trail.record(session, user, audit_trail.JOB, job.id, action, changes, now)


def _redacted(
    session: DbSession, job: ScheduledJob, action: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """The audit trail never holds write-only task arguments (shown as "set")."""
    if changes.get("task_args") is None:
        return changes
    # Redact by every task involved: an update may have switched the task too.
    switched = changes.get("task_function_id") if action == "updated" else None
    ids = {job.task_function_id, *(switched.values() if switched else ())}
    names = [row.name for row in (session.get(TaskFunction, i) for i in ids) if row]
    return sensitive.redact_changes(names, changes, updated=action == "updated")


def _jsonable(value: Any) -> Any:
    """Make a value fit a JSON audit column."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
