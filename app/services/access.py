"""Who may see and change what (SPEC §3): the one place these rules are written.

- See: admins and viewers see every job; editors see the jobs they own.
  Everything hanging off a job (executions, retry items, webhooks of a job,
  audit events) is visible exactly when its job is.
- Change: viewers change nothing; editors change their own jobs; admins all.
- System tasks (``TaskFunction.is_system``, such as ``cleanup_history``) are
  admin-only to schedule, edit or run, through every door.

Every read and write in the services goes through these functions; views
never test roles themselves.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, select, true

from app.models import Role, ScheduledJob, TaskFunction, User
from app.services.errors import Forbidden


def sees_all(user: User) -> bool:
    """Admins and viewers see every job; editors only their own."""
    return user.role != Role.EDITOR


def job_condition(user: User) -> ColumnElement[bool]:
    """SQL on ``ScheduledJob``: this user may see the job (deleted or not)."""
    if sees_all(user):
        return true()
    return ScheduledJob.owner_id == user.id


def visible_jobs(user: User) -> Select[ScheduledJob]:
    """Live (not deleted) jobs this user may see."""
    return select(ScheduledJob).where(ScheduledJob.deleted_at.is_(None), job_condition(user))


def visible_job_ids(user: User, *, include_deleted: bool = True) -> Select[uuid.UUID]:
    """Ids of jobs this user may see; history of deleted jobs stays visible by default."""
    query = select(ScheduledJob.id).where(job_condition(user))
    if not include_deleted:
        query = query.where(ScheduledJob.deleted_at.is_(None))
    return query


def can_see_job(user: User, job: ScheduledJob) -> bool:
    """The row-level twin of ``job_condition``."""
    return sees_all(user) or job.owner_id == user.id


def can_change_job(user: User, job: ScheduledJob) -> bool:
    """Admins change every job, editors their own, viewers none; system tasks admins only."""
    if user.role == Role.ADMIN:
        return True
    if user.role != Role.EDITOR or job.owner_id != user.id:
        return False
    return not job.task_function.is_system


def require_writer(user: User, message: str = "Viewers cannot change anything.") -> None:
    """Forbidden for viewers."""
    if user.role not in (Role.ADMIN, Role.EDITOR):
        raise Forbidden(message)


def require_admin(user: User, message: str = "Only admins may do this.") -> None:
    """Forbidden unless the user is an admin."""
    if user.role != Role.ADMIN:
        raise Forbidden(message)


def require_job_change(user: User, job: ScheduledJob) -> None:
    """Forbidden unless the user may change (or run) this job."""
    require_writer(user, "Viewers cannot change or run jobs.")
    if job.task_function.is_system:
        require_admin(user, "Only admins may schedule, change or run system tasks.")
    if not can_change_job(user, job):
        raise Forbidden("You may only change your own jobs.")


def require_task_allowed(user: User, task: TaskFunction) -> None:
    """Forbidden when a non-admin picks a system task."""
    if task.is_system:
        require_admin(user, "Only admins may schedule, change or run system tasks.")


__all__ = [
    "can_change_job",
    "can_see_job",
    "job_condition",
    "require_admin",
    "require_job_change",
    "require_task_allowed",
    "require_writer",
    "sees_all",
    "visible_job_ids",
    "visible_jobs",
]
