"""Row actions of the jobs table: run now (and its live status), pause, resume, enable,
disable, delete. Every action is a POST form: htmx gets the new row and a toast, a browser
without JS is redirected back with a flashed message (POST-redirect-GET)."""

from __future__ import annotations

import uuid

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.models import ScheduledJob, TriggeredBy, utcnow
from app.queues import recurrence
from app.services import access
from app.services.errors import Conflict, Invalid, ServiceError
from app.services.ledger import executions
from app.services.scheduling import jobs
from app.web.i18n import select_timezone
from app.web.jobs import bp
from app.web.jobs.action_forms import ActionForm, PauseForm
from app.web.jobs.helpers import run_url, shown
from app.web.jobs.table import build_rows
from app.web.redirects import safe_local_path

SIMPLE_ACTIONS = ("resume", "enable", "disable")


def _back(form: ActionForm) -> str:
    return safe_local_path(form.next.data or request.args.get("next"), url_for("jobs.index"))


def _row_response(job: ScheduledJob, message: str, level: str = "success") -> Response:
    """The job's row as it is now, with a toast."""
    row = build_rows(current_user, [job], utcnow())[0]
    response = make_response(render_template("jobs/_row.html", row=row))
    response.headers["Cache-Control"] = "no-store"
    return htmx.add_toast(response, message, level)


def _done(job: ScheduledJob, form: ActionForm, message: str, level: str = "success") -> Response:
    """htmx: the new row and a toast; otherwise back where the user was, with a flash."""
    message = shown(message)
    if htmx.is_partial_request():
        return _row_response(job, message, level)
    flash(message, "error" if level == "error" else "success")
    return redirect(_back(form), code=303)


def _job(job_id: uuid.UUID) -> ScheduledJob:
    return jobs.get_job(db.session, current_user, job_id)


def _refused(job: ScheduledJob, form: ActionForm, error: ServiceError) -> Response:
    """A refusal the user can fix (the state changed, bad input): nothing was written."""
    db.session.rollback()
    return _done(_job(job.id), form, error.message, "error")


@bp.route("/jobs/<uuid:job_id>/<any(resume, enable, disable):action>", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def act(job_id: uuid.UUID, action: str) -> Response:
    """Resume, enable or disable a job."""
    form = ActionForm()
    form.validate_on_submit()
    job = _job(job_id)
    try:
        message = jobs.apply_action(
            db.session, current_user, job, action, utcnow(), notifier=recurrence()
        )
    except (Conflict, Invalid) as error:
        return _refused(job, form, error)
    return _done(job, form, message)


@bp.route("/jobs/<uuid:job_id>/pause", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def pause(job_id: uuid.UUID) -> Response:
    """The pause form (a page without JS) and pausing itself."""
    job = _job(job_id)
    access.require_job_change(current_user, job)
    form = PauseForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                message = jobs.apply_action(
                    db.session, current_user, job, "pause", utcnow(),
                    reason=(form.reason.data or "").strip() or None,
                    resume_at=form.resume_at_utc(select_timezone()), notifier=recurrence(),
                )  # fmt: skip
            except (Conflict, Invalid) as error:
                db.session.rollback()
                form.resume_at.errors = [shown(error.message)]
            else:
                return _done(job, form, message)
        _explain(form)
        if htmx.is_partial_request():
            return _row_response(_job(job_id), _first_error(form), "error")
    status = 422 if form.errors or request.method == "POST" else 200
    page = render_template("jobs/pause.html", job=job, form=form, back=_back(form))
    return make_response(page, status)


def _explain(form: PauseForm) -> None:
    """Our own words for a time the browser sent that is not a date and time."""
    if form.resume_at.errors and form.resume_at.data is None:
        form.resume_at.errors = [_("Enter a date and time, such as 2026-12-31 09:00.")]


def _first_error(form: PauseForm) -> str:
    return next((str(e) for errors in form.errors.values() for e in errors), _("Invalid input."))


@bp.route("/jobs/<uuid:job_id>/delete", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def delete(job_id: uuid.UUID) -> Response:
    """Delete after a confirmation: the confirm page without JS, the <dialog> with it."""
    job = _job(job_id)
    access.require_job_change(current_user, job)
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit() and form.confirmed.data == "1":
        name = job.name
        jobs.delete_job(db.session, current_user, job, utcnow(), recurrence())
        message = _("Job “%(name)s” deleted.", name=name)
        if htmx.is_partial_request():
            return htmx.add_toast(make_response(""), message, "success")
        flash(message, "success")
        return redirect(_back(form), code=303)
    return make_response(render_template("jobs/delete.html", job=job, back=_back(form)))


@bp.route("/jobs/<uuid:job_id>/run", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def run_now(job_id: uuid.UUID) -> Response:
    """Queue a run now: htmx gets the live status; without JS, the run's page or the table."""
    form = ActionForm()
    form.validate_on_submit()
    run = jobs.run_now(db.session, current_user, job_id, TriggeredBy.MANUAL, utcnow(), recurrence())
    if htmx.is_partial_request():
        return htmx.render("jobs/_run_status.html", "jobs/_run_status.html", live=True, run=run)
    return redirect(run_url(run.id), code=303)


@bp.route("/jobs/runs/<uuid:execution_id>/status")
@login_required  # type: ignore[untyped-decorator]
def run_status(execution_id: uuid.UUID) -> Response:
    """A run's status, polled every second by its own fragment until it ends."""
    try:
        run = executions.get_execution(db.session, current_user, execution_id)
    except ServiceError:
        raise NotFound() from None
    return htmx.render("jobs/run_status.html", "jobs/_run_status.html", live=True, run=run)
