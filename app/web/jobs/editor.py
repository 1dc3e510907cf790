"""Create and edit a job: full pages, the sheet's partial, field checks and the live preview.

One view per page answers the whole page or, with htmx, only the form (the
table's sheet loads it). The service validates (``jobs.create_job`` /
``update_job`` through ``job_fields``); this module maps its snake_case error
paths onto the form's fields.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale
from babel.dates import format_datetime
from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.models import ScheduledJob, TaskFunction, utcnow
from app.queues import recurrence
from app.services import access
from app.services.errors import Invalid
from app.services.scheduling import catalog, jobs, schedule
from app.services.scheduling import defaults as job_defaults
from app.services.scheduling.job_fields import normalize_fields
from app.web.i18n import select_timezone
from app.web.jobs import args, bp
from app.web.jobs.forms import (
    BACKOFF,
    INTERVAL_UNITS,
    NEW_JOB_DEFAULTS,
    JobForm,
    field_for,
    initial_values,
    preset_expression,
    schedule_config,
    service_data,
)

PREVIEW_COUNT = 10
PAGE, PARTIAL = "jobs/form.html", "jobs/_form.html"


@dataclass
class Editor:
    """Everything the form template needs."""

    form: JobForm
    job: ScheduledJob | None = None
    source: ScheduledJob | None = None
    arg_fields: list[args.ArgField] = field(default_factory=list)
    task: TaskFunction | None = None
    errors: dict[str, str] = field(default_factory=dict)
    preview: schedule.Preview | None = None
    preview_error: str | None = None
    # "Default for new jobs: …" per field, on the form of a new job (see ``_default_notes``).
    default_notes: dict[str, str] = field(default_factory=dict)

    @property
    def keep(self) -> dict[str, Any]:
        """Stored arguments an empty sensitive input keeps (same task only)."""
        stored = self.job or self.source
        if stored is None or self.task is None or stored.task_function_id != self.task.id:
            return {}
        return dict(stored.task_args or {})


@cache
def _zones() -> list[str]:
    """IANA zone names for the searchable time-zone input."""
    return sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC")


@bp.app_template_filter("in_zone")
def in_zone(value: datetime, zone_name: str) -> str:
    """A UTC instant as wall time in ``zone_name`` with the zone's abbreviation."""
    zone = ZoneInfo(zone_name)
    locale = get_locale() or Locale("en")
    local = value.astimezone(zone)
    pattern = str(locale.datetime_formats["medium"]).format(
        locale.time_formats["short"].pattern, locale.date_formats["medium"].pattern
    )
    # The weekday first: cron rules speak in weekdays.
    text = format_datetime(local, "EEE " + pattern, locale=locale)
    return f"{text} {local.tzname()}"


def _tasks() -> list[TaskFunction]:
    """Tasks this user may choose (system tasks only for admins)."""
    rows = catalog.active_task_functions(db.session)
    return [row for row in rows if access.may_use_task(current_user, row)]


def _build(job: ScheduledJob | None, source: ScheduledJob | None) -> Editor:
    """The form filled from the request (POST) or from the stored job (GET)."""
    tasks = _tasks()
    if request.method == "POST":
        form = JobForm()
    else:
        stored = job or source
        data = initial_values(stored, ZoneInfo(stored.timezone)) if stored else {}
        if source is not None:
            data["name"] = _("Copy of %(name)s", name=source.name)
        start = NEW_JOB_DEFAULTS | {"timezone": select_timezone()} | _chosen_defaults()
        form = JobForm(data=start | data)
    form.task_function.choices = [(row.name, row.display_name) for row in tasks]
    form.task_function.validate_choice = False  # the service answers for unknown and system tasks
    editor = Editor(form=form, job=job, source=source)
    if job is None:
        editor.default_notes = _default_notes()
    by_name = {row.name: row for row in catalog.active_task_functions(db.session)}
    chosen = form.task_function.data or (tasks[0].name if tasks else "")
    editor.task = by_name.get(chosen) or (tasks[0] if tasks else None)
    form.task_function.data = editor.task.name if editor.task else chosen
    schema = editor.task.args_schema if editor.task else {}
    stored_args = editor.keep if request.method == "GET" else None
    editor.arg_fields = args.build(schema, stored_args)
    if request.method == "POST":
        args.refill(editor.arg_fields, request.form, set(editor.keep))
    return editor


def _chosen_defaults() -> dict[str, Any]:
    """The admin's defaults for new jobs (``/settings/defaults``), as form values."""
    return job_defaults.for_new_job(db.session)


def _default_notes() -> dict[str, str]:
    """What the form says next to a field that has a default for new jobs."""
    words = dict(BACKOFF)
    return {
        name: _("Default for new jobs: %(value)s", value=words.get(value, value))
        for name, value in _chosen_defaults().items()
    }


def _with_preview(editor: Editor) -> Editor:
    """Add the preview of the schedule as typed (an invalid schedule shows its error)."""
    form = editor.form
    empty = form.schedule_type.data == "cron" and not (form.cron_expression.data or "").strip()
    if empty:
        return editor
    data = service_data(form, {})
    try:
        editor.preview = schedule.preview(
            form.schedule_type.data or "cron",
            schedule_config(form),
            data["timezone"] or "UTC",
            data["start_date"] if not isinstance(data["start_date"], str) else None,
            data["end_date"] if not isinstance(data["end_date"], str) else None,
            PREVIEW_COUNT,
            utcnow(),
        )
    except Invalid as error:
        editor.preview_error = error.message
        editor.errors.update(_mapped(error, form))
    return editor


def _mapped(error: Invalid, form: JobForm) -> dict[str, str]:
    """The service's field errors keyed by form field (first message per field)."""
    mapped: dict[str, str] = {}
    for path, message in error.fields.items():
        mapped.setdefault(field_for(path, form.schedule_type.data), message)
    if not mapped:
        mapped["form"] = error.message
    return mapped


def _shape_errors(editor: Editor) -> tuple[dict[str, Any], dict[str, str]]:
    """Task arguments typed from the inputs, and every shape error (WTForms and arguments)."""
    form = editor.form
    form.validate()
    errors = {name: str(messages[0]) for name, messages in form.errors.items() if messages}
    task_args, arg_errors = args.parse(editor.arg_fields, request.form, editor.keep)
    errors.update({f"arg-{name}": message for name, message in arg_errors.items()})
    return task_args, errors


def _save(editor: Editor) -> ScheduledJob | None:
    """Save through the service; on refusal fill ``editor.errors`` and write nothing."""
    task_args, errors = _shape_errors(editor)
    editor.errors.update(errors)
    if errors:
        return None
    data = service_data(editor.form, task_args)
    try:
        if editor.job is None:
            return jobs.create_job(db.session, current_user, data, utcnow(), recurrence())
        return jobs.update_job(db.session, current_user, editor.job, data, utcnow(), recurrence())
    except Invalid as error:
        db.session.rollback()
        editor.errors.update(_mapped(error, editor.form))
        return None


def _show(editor: Editor, status: int = 200) -> Response:
    """The page, or only the form for htmx (errors re-render with 200 so htmx swaps them)."""
    sheet = bool(request.form.get("in_sheet")) if request.method == "POST" else None
    context: dict[str, Any] = {"editor": editor, "form": editor.form, "zones": _zones()}
    response = htmx.render(
        PAGE, PARTIAL, sheet=htmx.is_partial_request() if sheet is None else sheet, **context
    )
    if status != 200 and not htmx.is_partial_request():
        response.status_code = status
    return response


def _saved(job: ScheduledJob, created: bool) -> Response:
    """After a save: the sheet closes (event), a full page goes to the job (redirect)."""
    message = _("Job created.") if created else _("Job saved.")
    if not htmx.is_partial_request():
        flash(message, "success")
        return redirect(url_for("jobs.detail", job_id=job.id), code=303)
    if request.form.get("in_sheet"):
        # The form stays as it is in the closing sheet (which empties itself once the form's
        # requests still in flight have answered): a field check answering late still finds
        # the error slots its out-of-band swaps fill.
        response = make_response("")
        response.headers["HX-Reswap"] = "none"
        response.headers["HX-Trigger"] = json.dumps({"jobSaved": {"id": str(job.id)}})
        return htmx.add_toast(response, message, "success")
    flash(message, "success")
    response = make_response("")
    response.headers["HX-Redirect"] = url_for("jobs.detail", job_id=job.id)
    return response


def _answer(editor: Editor) -> Response:
    """Handle a POST: a preset, a task switch or a preview re-render, else a save."""
    action = request.form.get("action", "save")
    if action == "preset" and (expression := preset_expression(editor.form)):
        editor.form.cron_expression.data = expression
        editor.form.schedule_type.data = "cron"
    if action != "save":
        return _show(_with_preview(editor))
    job = _save(editor)
    if job is None:
        return _show(_with_preview(editor), 422)
    return _saved(job, editor.job is None)


def _uuid(raw: str) -> uuid.UUID | None:
    """An id from a form or a query, None when it is not one."""
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def _source() -> ScheduledJob | None:
    """The job being duplicated (``?from=<id>``), if the user may see it."""
    source_id = _uuid(request.args.get("from", ""))
    return jobs.get_job(db.session, current_user, source_id) if source_id else None


@bp.route("/jobs/new", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def new() -> Response:
    """Create a job (``?from=<id>`` duplicates one): the page, or the form for the sheet."""
    access.require_writer(current_user, _("Viewers cannot change jobs."))
    editor = _build(None, _source())
    if request.method == "POST":
        return _answer(editor)
    return _show(_with_preview(editor))


@bp.route("/jobs/<uuid:job_id>/edit", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def edit(job_id: uuid.UUID) -> Response:
    """Edit a job: the page, or the form for the sheet."""
    job = jobs.get_job(db.session, current_user, job_id)
    access.require_job_change(current_user, job)
    editor = _build(job, None)
    if request.method == "POST":
        return _answer(editor)
    return _show(_with_preview(editor))


def _touched(name: str) -> bool:
    """The user gave this field a value (blank untouched fields wait for the save)."""
    if name == "interval":
        return any(request.form.get(f"interval_{unit}", "").strip() for unit in INTERVAL_UNITS)
    if name in ("args", "form"):
        return True
    return bool(request.form.get(name, "").strip())


@bp.route("/jobs/validate", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def validate() -> Response:
    """Check the form as the user leaves a field: field errors out of band, nothing written."""
    access.require_writer(current_user, _("Viewers cannot change jobs."))
    job = None
    if job_id := _uuid(request.form.get("job_id", "")):
        job = jobs.get_job(db.session, current_user, job_id)
        access.require_job_change(current_user, job)
    editor = _build(job, None)
    task_args, errors = _shape_errors(editor)
    rule = lambda task: access.require_task_allowed(current_user, task)  # noqa: E731
    data = service_data(editor.form, task_args)
    # A blank name (WTForms reports it) must not hide the schedule's errors behind it.
    data["name"] = data["name"] or "-"
    try:
        normalize_fields(db.session, data, job, utcnow(), rule)
    except Invalid as error:
        errors = _mapped(error, editor.form) | errors  # a shape error says it more plainly
    finally:
        db.session.rollback()  # a check only: never keep anything it touched
    shown = {name: message for name, message in errors.items() if _touched(name)}
    response = make_response(render_template("jobs/_form_errors.html", editor=editor, errors=shown))
    response.vary.add("HX-Request")
    return response


@bp.route("/jobs/preview", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def preview() -> Response:
    """The live preview of the schedule being typed (next fire times, DST flags, words)."""
    editor = _with_preview(_build(None, None))
    return make_response(render_template("jobs/_preview.html", editor=editor))
