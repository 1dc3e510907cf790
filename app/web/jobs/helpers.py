"""Template globals of the jobs pages: who may do what (asked of ``access``), durations, links."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_login import current_user

from app.models import Execution, ScheduledJob
from app.services import access
from app.services.errors import Forbidden
from app.web.jobs import bp
from app.web.jobs.action_forms import PauseForm


@bp.app_template_global()
def can_change_job(job: ScheduledJob) -> bool:
    """May the signed-in user change (or run) this job."""
    return bool(current_user.is_authenticated and access.can_change_job(current_user, job))


@bp.app_template_global()
def can_run_again(run: Execution) -> bool:
    """May the signed-in user run this run's job once more (its status fragment offers it)."""
    return bool(run.job.deleted_at is None and can_change_job(run.job))


@bp.app_template_global()
def user_may_write() -> bool:
    """False for viewers: they see no write controls."""
    try:
        access.require_writer(current_user)
    except Forbidden:
        return False
    return True


@bp.app_template_global()
def user_sees_all() -> bool:
    """Admins and viewers see every job, so the table shows each job's owner."""
    return bool(access.sees_all(current_user))


@bp.app_template_global()
def duration_text(seconds: float | None) -> str:
    """ "4.2 s" under a minute, else the locale's words ("3 minutes"); "" when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return str(_("%(seconds)s s", seconds=f"{seconds:.1f}"))
    return str(format_timedelta(timedelta(seconds=seconds), threshold=1.5))


@bp.app_template_global()
def pause_form() -> PauseForm:
    """An empty pause form for the pause <dialog> of a row."""
    return PauseForm(formdata=None)


@bp.app_template_global()
def run_url(run_id: uuid.UUID) -> str:
    """The run's page."""
    return url_for("runs.detail", run_id=run_id)


def shown(message: str) -> str:
    """A service's message in the page's language (services return the English msgid)."""
    return str(_(message)) if message else message
