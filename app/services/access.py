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

from sqlalchemy import ColumnElement, Select, false, select, true

from app.i18n import N_, _
from app.models import Role, ScheduledJob, TaskFunction, User, Webhook
from app.services.errors import Forbidden

_SYSTEM_TASKS = N_("Only admins may schedule, change or run system tasks.")


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


def changeable_job_condition(user: User) -> ColumnElement[bool]:
    """SQL on ``ScheduledJob``: this user may change (or run) the job; the bulk twin of
    ``can_change_job``."""
    if user.role == Role.ADMIN:
        return true()
    if user.role != Role.EDITOR:
        return false()
    system = select(TaskFunction.id).where(TaskFunction.is_system)
    return (ScheduledJob.owner_id == user.id) & ScheduledJob.task_function_id.not_in(system)


def webhook_condition(user: User) -> ColumnElement[bool]:
    """SQL on ``Webhook``: visible when its job is; webhooks of every job to those who see all."""
    if sees_all(user):
        return true()
    return Webhook.job_id.in_(visible_job_ids(user))


def can_change_job(user: User, job: ScheduledJob) -> bool:
    """Admins change every job, editors their own, viewers none; system tasks admins only."""
    if user.role == Role.ADMIN:
        return True
    if user.role != Role.EDITOR or job.owner_id != user.id:
        return False
    return not job.task_function.is_system


def require_writer(user: User, message: str | None = None) -> None:
    """Forbidden for viewers."""
    if user.role not in (Role.ADMIN, Role.EDITOR):
        raise Forbidden(message or _("Viewers cannot change anything."))


def require_admin(user: User, message: str | None = None) -> None:
    """Forbidden unless the user is an admin."""
    if user.role != Role.ADMIN:
        raise Forbidden(message or _("Only admins may do this."))


def require_job_change(user: User, job: ScheduledJob, message: str | None = None) -> None:
    """Forbidden unless the user may change (or run) this job."""
    require_writer(user, message or _("Viewers cannot change or run jobs."))
    if job.task_function.is_system:
        require_admin(user, _(_SYSTEM_TASKS))
    if not can_change_job(user, job):
        raise Forbidden(_("You may only change your own jobs."))


def may_use_task(user: User, task: TaskFunction) -> bool:
    """System tasks are admins' to schedule; every other task is anyone's who may write."""
    return not task.is_system or user.role == Role.ADMIN


def require_task_allowed(user: User, task: TaskFunction) -> None:
    """Forbidden when a non-admin picks a system task."""
    if not may_use_task(user, task):
        require_admin(user, _(_SYSTEM_TASKS))


def require_owner_change(user: User, owner_id: uuid.UUID) -> None:
    """Only admins give a job to someone other than themselves."""
    if owner_id != user.id:
        require_admin(user, _("Only admins may give a job to someone else."))


def can_manage_account(user: User, subject_id: uuid.UUID) -> bool:
    """A user manages their own account (password, tokens); admins everyone's."""
    return user.role == Role.ADMIN or subject_id == user.id


def sees_all_accounts(user: User) -> bool:
    """Admins manage every account, so they see everyone's tokens; others only their own."""
    return user.role == Role.ADMIN


def require_user_or_admin(user: User, subject_id: uuid.UUID) -> None:
    """Forbidden unless ``can_manage_account``."""
    if not can_manage_account(user, subject_id):
        raise Forbidden(_("Only admins may manage other users."))


__all__ = [
    "can_change_job",
    "can_manage_account",
    "can_see_job",
    "changeable_job_condition",
    "job_condition",
    "may_use_task",
    "require_admin",
    "require_job_change",
    "require_owner_change",
    "require_task_allowed",
    "require_user_or_admin",
    "require_writer",
    "sees_all",
    "sees_all_accounts",
    "visible_job_ids",
    "visible_jobs",
    "webhook_condition",
]
