"""What job field values mean: checked here once, for the API and the forms.

Input is a mapping of snake_case field names to values (the API's schemas or
a form parsed them). Every limit is checked here again from the one table in
``limits``, so a door without pydantic (a form, the CLI) gets the same rules.
Errors name snake_case field paths (``schedule_config.expression``,
``task_args.url``); each door spells them its own way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import instants, outbound, timemath
from app.extensions import DbSession
from app.i18n import _
from app.models import JobType, ScheduledJob, TaskFunction
from app.services import limits
from app.services.errors import Conflict, Invalid
from app.services.scheduling import defaults, sensitive
from app.services.scheduling.catalog import task_function_row
from app.tasks import TaskArgsError, registry

_INFERRED_TYPE = (("expression", "cron"), ("runAt", "date"))
# timemath names config keys as stored (camelCase JSON); these are their field paths.
_SCHEDULE_PATHS = {
    "scheduleConfig": "schedule_config",
    "jobType": "job_type",
    "timezone": "timezone",
    "runAt": "schedule_config.run_at",
}


class _Errors(dict[str, str]):
    """Collects field errors so the client sees all of them at once."""

    def check(self) -> None:
        if self:
            raise Invalid(fields=dict(self))


def schedule_path(error: timemath.ScheduleError) -> str:
    """The field path of a schedule error (``schedule_config.expression``)."""
    return _SCHEDULE_PATHS.get(error.field, f"schedule_config.{error.field}")


def normalize_fields(
    session: DbSession,
    data: dict[str, Any],
    current: ScheduledJob | None,
    now: datetime,
    allow_task: Callable[[TaskFunction], None] | None = None,
) -> dict[str, Any]:
    """Validate a create (``current`` None) or a partial update; return column values.

    ``allow_task`` sees the chosen task before anything else is checked (the
    system-task rule answers before the task's arguments are judged). A create
    takes the admin's defaults for new jobs for every field it leaves out.
    """
    if current is None:
        data = defaults.for_new_job(session) | data
    errors = _Errors()
    values = {key: _plain(value) for key, value in data.items() if key not in _DERIVED}
    task = _task_function(session, data, current, errors)
    if task is not None and allow_task is not None:
        allow_task(task)
    _check_limits(data, errors)
    if current is None and data.get("name") is None:
        errors["name"] = _("is required")
    if isinstance(values.get("name"), str):
        values["name"] = values["name"].strip()
    job_type = _job_type(session, data, current, errors)
    zone = _zone(data, current, errors)
    errors.check()
    assert task is not None and job_type is not None and zone is not None
    values.update(task_function_id=task.id, job_type_id=job_type.id, timezone=zone.key)
    _schedule(data, current, job_type.name, zone, values, errors, now)
    _task_args(data, current, task, values, errors)
    if current is None and "timeout_seconds" not in data:
        values["timeout_seconds"] = task.default_timeout_seconds
    errors.check()
    return values


_DERIVED = frozenset({"task_function", "job_type"})
_TEXTS = {
    "name": (limits.NAME_LENGTH, True),
    "description": (limits.DESCRIPTION_LENGTH, False),
    "timezone": (limits.TIMEZONE_LENGTH, True),
    "paused_reason": (limits.PAUSE_REASON_LENGTH, False),
}


# Columns that always hold a value: an update may change them, never clear them.
_NOT_NULL = frozenset(
    {"name", "schedule_config", "timezone", "overlap_policy", "misfire_policy", "retry_backoff"}
    | {"is_enabled", *limits.JOB_NUMBERS}
)


def _check_limits(data: dict[str, Any], errors: _Errors) -> None:
    """The limits table, for doors that did not check it already (the API's schemas did)."""
    for field in _NOT_NULL.intersection(data):
        if data[field] is None:
            errors[field] = _("must not be null")
    for field in limits.JOB_NUMBERS:
        if data.get(field) is not None and (problem := limits.number_problem(field, data[field])):
            errors[field] = problem
    for field, (bounds, required) in _TEXTS.items():
        value = data.get(field)
        if value is not None and (problem := limits.text_problem(value, bounds, required=required)):
            errors[field] = problem
    queue = data.get("queue")
    if queue is not None and not (isinstance(queue, str) and re.match(limits.QUEUE_PATTERN, queue)):
        errors["queue"] = _("must be a queue name: lower-case letters, digits, - and _")
    if data.get("task_args") is not None and (
        problem := limits.task_args_problem(data["task_args"])
    ):
        errors["task_args"] = problem


def _plain(value: Any) -> Any:
    """Enums to their stored strings."""
    return getattr(value, "value", value)


def _task_function(
    session: DbSession, data: dict[str, Any], current: ScheduledJob | None, errors: _Errors
) -> TaskFunction | None:
    """Resolve the task by name or id; it must be registered in code."""
    name, row_id = data.get("task_function"), data.get("task_function_id")
    if name is None and row_id is None:
        if current is not None:
            return current.task_function
        errors["task_function"] = _("is required")
        return None
    if name is None:
        by_id = session.get(TaskFunction, row_id)
        name = by_id.name if by_id else None
        if name is None:
            errors["task_function_id"] = _("no such task function")
            return None
    if name not in registry:
        errors["task_function"] = _("unknown task {name!r}; see /api/v1/task-functions").format(
            name=name
        )
        return None
    row = task_function_row(session, name)
    if row_id is not None and row.id != row_id:
        errors["task_function_id"] = _("does not match taskFunction")
    elif not row.is_active:
        errors["task_function"] = _("task {name!r} is not active").format(name=name)
    return row


def _job_type(
    session: DbSession, data: dict[str, Any], current: ScheduledJob | None, errors: _Errors
) -> JobType | None:
    """Resolve the job type by name or id, or infer it from the schedule config."""
    name, row_id = data.get("job_type"), data.get("job_type_id")
    if name is None and row_id is None:
        if current is not None:
            return current.job_type
        config = data.get("schedule_config") or {}
        name = next((kind for key, kind in _INFERRED_TYPE if key in config), "interval")
    query = select(JobType).where(JobType.name == name if name else JobType.id == row_id)
    row = session.scalar(query)
    if row is None:
        errors["job_type_id" if name is None else "job_type"] = _("no such job type")
    elif row_id is not None and row.id != row_id:
        errors["job_type_id"] = _("does not match jobType")
    return row


def _zone(data: dict[str, Any], current: ScheduledJob | None, errors: _Errors) -> ZoneInfo | None:
    """The job's IANA time zone."""
    name = data.get("timezone") or (current.timezone if current else "UTC")
    try:
        return timemath.parse_timezone(name)
    except timemath.ScheduleError as error:
        errors["timezone"] = error.message
        return None


def _schedule(
    data: dict[str, Any],
    current: ScheduledJob | None,
    kind: str,
    zone: ZoneInfo,
    values: dict[str, Any],
    errors: _Errors,
    now: datetime,
) -> None:
    """Validate the trigger and the start/end window; store their canonical forms."""
    config = data.get("schedule_config", current.schedule_config if current else None)
    try:
        trigger = parse_trigger(kind, config, zone)
    except timemath.ScheduleError as error:
        errors[schedule_path(error)] = error.message
        return
    values["schedule_config"] = _canonical_config(trigger, config)
    start = localize(data.get("start_date", current.start_date if current else None), zone)
    end = localize(data.get("end_date", current.end_date if current else None), zone)
    values["start_date"], values["end_date"] = start, end
    if start and end and end <= start:
        errors["end_date"] = _("must be after startDate")
    elif _one_off_in_past(trigger, zone, data, now):
        errors["schedule_config.run_at"] = _("is in the past")


def _one_off_in_past(
    trigger: timemath.Trigger, zone: ZoneInfo, data: dict[str, Any], now: datetime
) -> bool:
    """A one-off whose moment has passed can never fire: refuse it when it is being set."""
    if not isinstance(trigger, timemath.DateTrigger) or not _schedule_touched(data):
        return False
    return timemath.resolve_wall_time(trigger.run_at, zone) <= now


def _schedule_touched(data: dict[str, Any]) -> bool:
    return any(key in data for key in ("schedule_config", "timezone", "job_type", "job_type_id"))


def _canonical_config(trigger: timemath.Trigger, config: Any) -> dict[str, Any]:
    """The stored form of a valid schedule config."""
    if isinstance(trigger, timemath.CronTrigger):
        return {"expression": trigger.expression}
    if isinstance(trigger, timemath.DateTrigger):
        return {"runAt": trigger.run_at.isoformat()}
    return {key: value for key, value in dict(config).items() if value}


def localize(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A schedule bound: naive is wall-clock time in the job's zone (the rule in ``instants``)."""
    return None if value is None else instants.in_zone(value, zone)


def parse_trigger(kind: str, config: Any, zone: ZoneInfo) -> timemath.Trigger:
    """The trigger of a schedule config; a ``runAt`` with Z or an offset becomes wall time in ``zone``."""  # noqa: E501
    run_at = config.get("runAt") if isinstance(config, dict) else None
    if kind == "date" and isinstance(run_at, str) and instants.has_offset(run_at):
        wall = instants.wall_time(instants.parse(run_at), zone)
        config = {**config, "runAt": wall.isoformat(timespec="seconds")}
    return timemath.parse_trigger(kind, config)


def _task_args(
    data: dict[str, Any],
    current: ScheduledJob | None,
    task: TaskFunction,
    values: dict[str, Any],
    errors: _Errors,
) -> None:
    """Check the arguments against the task's declared schema."""
    args = data.get("task_args", current.task_args if current else None)
    if current is not None and "task_args" in data and current.task_function_id == task.id:
        # Write-only values left out (or sent back as shown) keep what is stored.
        args = sensitive.merge_kept(task.name, current.task_args, args)
    try:
        values["task_args"] = registry.get(task.name).validate_args(args)
    except TaskArgsError as error:
        for path, message in error.errors.items():
            errors["task_args" + (f".{path}" if path else "")] = message
        return
    if task.handler_type == "http" and isinstance(values["task_args"].get("url"), str):
        # The webhooks' creation-time check (scheme, IP literals); names are checked on connect.
        try:
            outbound.check_destination(values["task_args"]["url"])
        except outbound.OutboundError as error:
            errors["task_args.url"] = str(error)


def require_unique_name(session: DbSession, owner_id: Any, name: str, job_id: Any = None) -> None:
    """Job names are unique per owner, whatever the case, among live jobs: else a 409."""
    query = select(ScheduledJob.name).where(
        ScheduledJob.owner_id == owner_id,
        func.lower(ScheduledJob.name) == name.lower(),
        ScheduledJob.deleted_at.is_(None),
    )
    if job_id is not None:
        query = query.where(ScheduledJob.id != job_id)
    clash = session.scalar(query.limit(1))
    if clash is not None:
        raise _name_taken(clash)


def _name_taken(name: str) -> Conflict:
    message = _("There is already a job named {name!r}; choose another name.")
    return Conflict(message.format(name=name), {"name": _("already used by another job")})


@contextmanager
def name_race_as_conflict(session: DbSession, name: str) -> Iterator[None]:
    """Two saves racing past ``require_unique_name``: the index's refusal is a 409 too."""
    try:
        yield
    except IntegrityError as error:
        if "uq_scheduled_jobs_owner_name" not in str(error) and "lower(name)" not in str(error):
            raise
        session.rollback()
        raise _name_taken(name) from None
