"""The job form: shape only (types, required); the service judges the values.

Field names follow the service's snake_case paths where they can, so an
``Invalid.fields`` path maps to a field by a small table (``field_for``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, NumberRange, Optional

from app.models import ScheduledJob

SCHEDULE_TYPES = [
    ("cron", _l("Cron expression")),
    ("interval", _l("Interval")),
    ("date", _l("Once")),
]
INTERVAL_UNITS = ("weeks", "days", "hours", "minutes", "seconds")
PRESETS = [
    ("", _l("Choose a preset…")),
    ("every", _l("Every N minutes")),
    ("hourly", _l("Hourly at minute")),
    ("daily", _l("Daily at")),
    ("weekly", _l("Weekly on")),
    ("monthly", _l("Monthly on day")),
]
WEEKDAYS = [
    ("1", _l("Monday")),
    ("2", _l("Tuesday")),
    ("3", _l("Wednesday")),
    ("4", _l("Thursday")),
    ("5", _l("Friday")),
    ("6", _l("Saturday")),
    ("0", _l("Sunday")),
]
MISFIRE = [
    ("run_once", _l("Run once")),
    ("skip", _l("Skip")),
    ("run_all", _l("Run every missed slot")),
]
OVERLAP = [("skip", _l("Skip the new run")), ("queue", _l("Queue it"))]
BACKOFF = [("fixed", _l("Fixed")), ("linear", _l("Linear")), ("exponential", _l("Exponential"))]
WALL_TIME = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


def _number(label: Any, low: int = 0) -> IntegerField:
    return IntegerField(label, validators=[InputRequired(), NumberRange(min=low)])


def _optional_number(label: Any) -> IntegerField:
    return IntegerField(label, validators=[Optional(), NumberRange(min=0)])


class JobForm(FlaskForm):  # type: ignore[misc]
    """Create or edit a job; task arguments are extra inputs (``app.web.jobs.args``)."""

    name = StringField(_l("Name"), validators=[InputRequired()])
    description = TextAreaField(_l("Description"), validators=[Optional()])
    task_function = SelectField(_l("Task"), validators=[InputRequired()])
    schedule_type = RadioField(_l("Schedule"), choices=SCHEDULE_TYPES, default="cron")
    cron_expression = StringField(_l("Cron expression"), validators=[Optional()])
    preset = SelectField(_l("Preset"), choices=PRESETS, validators=[Optional()])
    preset_every = IntegerField(_l("Minutes"), default=15, validators=[Optional()])
    preset_minute = IntegerField(_l("Minute"), default=0, validators=[Optional()])
    preset_time = StringField(_l("Time"), default="09:00", validators=[Optional()])
    preset_weekday = SelectField(_l("Weekday"), choices=WEEKDAYS, validators=[Optional()])
    preset_day = IntegerField(_l("Day of month"), default=1, validators=[Optional()])
    interval_weeks = _optional_number(_l("Weeks"))
    interval_days = _optional_number(_l("Days"))
    interval_hours = _optional_number(_l("Hours"))
    interval_minutes = _optional_number(_l("Minutes"))
    interval_seconds = _optional_number(_l("Seconds"))
    run_at = StringField(_l("Run at"), validators=[Optional()])
    start_date = StringField(_l("Start"), validators=[Optional()])
    end_date = StringField(_l("End"), validators=[Optional()])
    timezone = StringField(_l("Time zone"), validators=[InputRequired()])
    jitter_seconds = _number(_l("Jitter (seconds)"))
    misfire_policy = SelectField(_l("When runs were missed"), choices=MISFIRE)
    misfire_grace_seconds = _number(_l("Grace (seconds)"))
    max_instances = _number(_l("Max parallel runs"), 1)
    overlap_policy = SelectField(_l("When a run is still going"), choices=OVERLAP)
    timeout_seconds = _number(_l("Timeout (seconds)"), 1)
    retry_count = _number(_l("Retries"))
    retry_delay_seconds = _number(_l("Retry delay (seconds)"))
    retry_backoff = SelectField(_l("Backoff"), choices=BACKOFF, default="exponential")
    retry_max_delay_seconds = _number(_l("Max retry delay (seconds)"))
    retry_jitter_seconds = _number(_l("Retry jitter (seconds)"))
    max_consecutive_failures = _number(_l("Stop after failures in a row (0 = never)"))
    queue = StringField(_l("Queue"), validators=[Optional()])
    is_enabled = BooleanField(_l("Enabled"), default=True)


# Job columns shown as-is in the form (same names on both sides).
PLAIN_FIELDS = (
    "name",
    "description",
    "timezone",
    "jitter_seconds",
    "misfire_policy",
    "misfire_grace_seconds",
    "max_instances",
    "overlap_policy",
    "timeout_seconds",
    "retry_count",
    "retry_delay_seconds",
    "retry_backoff",
    "retry_max_delay_seconds",
    "retry_jitter_seconds",
    "max_consecutive_failures",
    "queue",
    "is_enabled",
)
NEW_JOB_DEFAULTS: dict[str, Any] = {
    "jitter_seconds": 0,
    "misfire_policy": "run_once",
    "misfire_grace_seconds": 60,
    "max_instances": 1,
    "overlap_policy": "skip",
    "timeout_seconds": 300,
    "retry_count": 0,
    "retry_delay_seconds": 60,
    "retry_backoff": "exponential",
    "retry_max_delay_seconds": 3600,
    "retry_jitter_seconds": 0,
    "max_consecutive_failures": 0,
    "is_enabled": True,
    "schedule_type": "cron",
}


def wall_text(value: datetime | None, zone: Any) -> str:
    """A stored UTC instant as the wall time a datetime-local input shows in ``zone``."""
    return value.astimezone(zone).strftime(WALL_TIME) if value else ""


def initial_values(job: ScheduledJob, zone: Any) -> dict[str, Any]:
    """Form data for an existing job (edit, or the source of a duplicate)."""
    config = job.schedule_config or {}
    values: dict[str, Any] = {name: getattr(job, name) for name in PLAIN_FIELDS}
    values.update(
        task_function=job.task_function.name,
        schedule_type=job.job_type.name,
        cron_expression=config.get("expression", ""),
        run_at=str(config.get("runAt", ""))[:16],
        start_date=wall_text(job.start_date, zone),
        end_date=wall_text(job.end_date, zone),
        **{f"interval_{unit}": config.get(unit) for unit in INTERVAL_UNITS},
    )
    return values


def preset_expression(form: JobForm) -> str | None:
    """The cron expression a preset names (app.js builds the same one in the browser)."""
    hour, _sep, minute = (form.preset_time.data or "09:00").partition(":")
    if not (hour.isdigit() and minute.isdigit()):
        hour, minute = "9", "0"
    at = f"{int(minute)} {int(hour)}"
    builders = {
        "every": lambda: f"*/{max(1, min(59, form.preset_every.data or 15))} * * * *",
        "hourly": lambda: f"{max(0, min(59, form.preset_minute.data or 0))} * * * *",
        "daily": lambda: f"{at} * * *",
        "weekly": lambda: f"{at} * * {form.preset_weekday.data or '1'}",
        "monthly": lambda: f"{at} {max(1, min(31, form.preset_day.data or 1))} * *",
    }
    build = builders.get(form.preset.data or "")
    return build() if build else None


def _wall(text: str | None) -> datetime | str | None:
    """A datetime-local value as a naive datetime (wall time in the job's zone)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return text  # the service says what is wrong with it


def schedule_config(form: JobForm) -> dict[str, Any]:
    """The schedule config of the chosen type, as the service reads it."""
    kind = form.schedule_type.data
    if kind == "cron":
        return {"expression": (form.cron_expression.data or "").strip()}
    if kind == "date":
        return {"runAt": form.run_at.data or ""}
    units = {unit: getattr(form, f"interval_{unit}").data for unit in INTERVAL_UNITS}
    return {unit: value for unit, value in units.items() if value}


def service_data(form: JobForm, task_args: dict[str, Any]) -> dict[str, Any]:
    """The whole job as ``jobs.create_job``/``update_job`` take it."""
    data: dict[str, Any] = {name: getattr(form, name).data for name in PLAIN_FIELDS}
    data.update(
        description=(form.description.data or "").strip() or None,
        queue=(form.queue.data or "").strip() or None,
        timezone=(form.timezone.data or "").strip(),
        task_function=form.task_function.data,
        job_type=form.schedule_type.data,
        schedule_config=schedule_config(form),
        start_date=_wall(form.start_date.data),
        end_date=_wall(form.end_date.data),
        task_args=task_args,
    )
    return data


# Service field paths that are not the form field's own name.
_PATHS = {
    "schedule_config.expression": "cron_expression",
    "schedule_config.run_at": "run_at",
    "task_function_id": "task_function",
    "job_type": "schedule_type",
    "job_type_id": "schedule_type",
}
_WHOLE_SCHEDULE = {"cron": "cron_expression", "date": "run_at", "interval": "interval"}


def field_for(path: str, schedule_type: str | None) -> str:
    """The form field (or group: ``interval``, ``args``, ``form``) an error path belongs to."""
    if path in _PATHS:
        return _PATHS[path]
    if path == "schedule_config":
        return _WHOLE_SCHEDULE.get(schedule_type or "", "interval")
    head, _sep, rest = path.partition(".")
    if head == "schedule_config" and rest in INTERVAL_UNITS:
        return f"interval_{rest}"
    if head == "task_args":
        return f"arg-{rest}" if rest else "args"
    return path if path in JobForm.__dict__ else "form"
