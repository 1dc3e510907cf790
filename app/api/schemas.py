"""Request and response shapes of the JSON API (camelCase on the wire).

These check shape and types only; what a value means (a cron expression, a
task's arguments) is checked by the services, which the forms share.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from app import instants
from app.api.constraints import (
    INSTANT_SCHEMA,
    PRINTABLE_SCHEMA,
    TASK_NAME_SCHEMA,
    Documented,
    Whole,
    schedule_config_schema,
    timezone_schema,
)
from app.models import Backoff, ExecutionStatus, JobStatus, MisfirePolicy, OverlapPolicy
from app.services import limits
from app.tasks.registry import TASK_NAME_RE


def _printable(value: str) -> str:
    """Refuse control characters (a NUL would even break PostgreSQL) and bidi controls."""
    if problem := limits.character_problem(value):
        raise ValueError(str(problem))
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


def _time(value: Any) -> Any:
    """Read a time by the one rule (``app.instants``); other types fail as usual."""
    if isinstance(value, str | datetime):
        return instants.parse(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Lenient parsing would read 1700000000 as seconds since 1970: the document says a string.
        raise ValueError(f"must be a date-time string: {instants.SHAPE_HINT}")
    return value


Text = Annotated[str, AfterValidator(_printable), Documented(PRINTABLE_SCHEMA)]
# Times arrive as JSON strings, read by the one rule in ``app.instants``:
# an Instant (filters, resumeAt) without offset is UTC; a WallTime (a job's
# startDate/endDate) stays naive here and is wall time in the job's zone.
Instant = Annotated[
    datetime,
    BeforeValidator(_time),
    AfterValidator(instants.as_utc),
    Documented(INSTANT_SCHEMA),
]
WallTime = Annotated[datetime, BeforeValidator(_time), Documented(INSTANT_SCHEMA)]
# Ids arrive as JSON strings: parsed leniently even in strict models.
Id = Annotated[uuid.UUID, Field(strict=False)]
Name = Annotated[
    str,
    Field(min_length=limits.NAME_LENGTH.low, max_length=limits.NAME_LENGTH.high),
    AfterValidator(_printable),
    AfterValidator(_not_blank),
    Documented(PRINTABLE_SCHEMA),
]
QueueName = Annotated[str, Field(pattern=limits.QUEUE_PATTERN)]
JsonObject = dict[str, Any]
ScheduleConfig = Annotated[JsonObject, Documented(schedule_config_schema())]
# The pattern is checked, not only documented: a filter compares it in SQL.
TaskName = Annotated[
    str,
    Field(max_length=limits.TASK_FUNCTION_NAME_LENGTH.high, pattern=TASK_NAME_RE.pattern),
    Documented(TASK_NAME_SCHEMA),
]


def _bounded(field: str) -> Any:
    """The bounds of a whole-number job field, from the limits table (55.0 counts as 55)."""
    return Whole(limits.JOB_NUMBERS[field])


LookupId = Annotated[int, Whole(limits.LOOKUP_ID)]
TimezoneName = Annotated[
    Text,
    Field(min_length=limits.TIMEZONE_LENGTH.low, max_length=limits.TIMEZONE_LENGTH.high),
    Documented(timezone_schema()),
]


class ApiModel(BaseModel):
    """camelCase aliases; unknown keys are an error, not silently dropped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class RequestModel(ApiModel):
    """A request body: strict types, so "3" is not an integer and 1.5 not a count."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True
    )


class ErrorDetail(ApiModel):
    """What went wrong."""

    code: str
    message: str
    fields: dict[str, str]


class ErrorBody(ApiModel):
    """Every error answer."""

    error: ErrorDetail


# ---- jobs -------------------------------------------------------------------


def _forbid_null_in_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Document that only the model's nullable fields accept null."""
    nullable = {to_camel(name) for name in getattr(model, "nullable", frozenset())}
    for name, prop in schema.get("properties", {}).items():
        if name not in nullable and "anyOf" in prop:
            prop["anyOf"] = [item for item in prop["anyOf"] if item != {"type": "null"}]
            prop.pop("default", None)


class PartialModel(RequestModel):
    """A partial update: every field optional; null only where a field can be empty.

    Omitting a field leaves it alone; ``{"name": null}`` is a 422, not a
    broken row. Subclasses list the fields that may be cleared in ``nullable``.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        json_schema_extra=_forbid_null_in_schema,
    )
    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("must not be null")
        return value


class JobFields(PartialModel):
    """Every writable job field; all optional (used for PUT/PATCH)."""

    nullable = frozenset({"description", "start_date", "end_date", "queue", "task_args"})

    name: Name | None = None
    description: Annotated[Text, Field(max_length=limits.DESCRIPTION_LENGTH.high)] | None = None
    task_function: TaskName | None = None
    task_function_id: LookupId | None = None
    job_type: Literal["interval", "cron", "date"] | None = None
    job_type_id: LookupId | None = None
    schedule_config: ScheduleConfig | None = None
    timezone: TimezoneName | None = None
    start_date: WallTime | None = None
    end_date: WallTime | None = None
    jitter_seconds: Annotated[int, _bounded("jitter_seconds")] | None = None
    task_args: JsonObject | None = None
    queue: QueueName | None = None
    max_instances: Annotated[int, _bounded("max_instances")] | None = None
    overlap_policy: OverlapPolicy | None = None
    misfire_policy: MisfirePolicy | None = None
    misfire_grace_seconds: Annotated[int, _bounded("misfire_grace_seconds")] | None = None
    timeout_seconds: Annotated[int, _bounded("timeout_seconds")] | None = None
    retry_count: Annotated[int, _bounded("retry_count")] | None = None
    retry_delay_seconds: Annotated[int, _bounded("retry_delay_seconds")] | None = None
    retry_backoff: Backoff | None = None
    retry_max_delay_seconds: Annotated[int, _bounded("retry_max_delay_seconds")] | None = None
    retry_jitter_seconds: Annotated[int, _bounded("retry_jitter_seconds")] | None = None
    max_consecutive_failures: Annotated[int, _bounded("max_consecutive_failures")] | None = None
    is_enabled: bool | None = None
    owner_id: Id | None = None


class JobCreate(JobFields):
    """A new job; name and scheduleConfig are required."""

    name: Name
    schedule_config: ScheduleConfig


class JobUpdate(JobFields):
    """Changed fields only; null clears an optional field."""


class JobAction(RequestModel):
    """An action on a job."""

    action: Literal["trigger", "pause", "resume", "enable", "disable"]
    reason: Annotated[Text, Field(max_length=limits.PAUSE_REASON_LENGTH.high)] | None = None
    resume_at: Instant | None = None


class ExecutionSummary(ApiModel):
    """One execution, as listed."""

    id: uuid.UUID
    job_id: uuid.UUID
    job_name: str | None
    rq_job_id: str | None
    status: ExecutionStatus
    scheduled_for: datetime | None
    attempt: int
    retry_of: uuid.UUID | None
    queued_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    error_message: str | None
    http_status: int | None
    triggered_by: str
    triggered_by_user_id: uuid.UUID | None
    worker_name: str | None
    reason: str | None
    created_at: datetime


class ExecutionDetail(ExecutionSummary):
    """One execution with its result, log and traceback."""

    result: Any
    error_traceback: str | None
    log_output: str | None
    scheduler_instance_id: uuid.UUID | None


class Job(ApiModel):
    """A job as the API shows it."""

    id: uuid.UUID
    name: str
    description: str | None
    task_function: str
    task_function_id: int
    job_type: str
    job_type_id: int
    schedule_config: JsonObject
    timezone: str
    start_date: datetime | None
    end_date: datetime | None
    jitter_seconds: int
    task_args: JsonObject
    queue: str
    max_instances: int
    overlap_policy: OverlapPolicy
    misfire_policy: MisfirePolicy
    misfire_grace_seconds: int
    timeout_seconds: int
    retry_count: int
    retry_delay_seconds: int
    retry_backoff: Backoff
    retry_max_delay_seconds: int
    retry_jitter_seconds: int
    max_consecutive_failures: int
    is_enabled: bool
    is_paused: bool
    paused_reason: str | None
    resume_at: datetime | None
    status: JobStatus
    next_run_time: datetime | None
    last_run_time: datetime | None
    last_status: str | None
    consecutive_failures: int
    owner_id: uuid.UUID | None
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class JobDetail(Job):
    """A job with its next fire times and latest executions."""

    next_run_times: list[datetime]
    recent_executions: list[ExecutionSummary]


class JobList(ApiModel):
    """A page of jobs with counts over the whole filtered set."""

    jobs: list[Job]
    total: int
    page: int
    per_page: int
    enabled_count: int
    disabled_count: int
    running_count: int


class JobListQuery(ApiModel):
    """Filters, search, sort and paging of GET /jobs."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    page: Annotated[int, Field(ge=1, le=100000)] = 1
    per_page: Annotated[int, Field(ge=1, le=100)] = 20
    q: Annotated[Text, Field(max_length=200)] | None = None
    status: JobStatus | None = None
    task_function: Annotated[str, Field(max_length=100)] | None = None
    job_type: Literal["interval", "cron", "date"] | None = None
    sort: Literal[
        "name",
        "-name",
        "createdAt",
        "-createdAt",
        "updatedAt",
        "-updatedAt",
        "nextRunTime",
        "-nextRunTime",
        "lastRunTime",
        "-lastRunTime",
        "status",
        "-status",
    ] = "name"


class HistoryQuery(ApiModel):
    """Filters and paging of execution history."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    page: Annotated[int, Field(ge=1, le=100000)] = 1
    per_page: Annotated[int, Field(ge=1, le=100)] = 20
    status: ExecutionStatus | None = None
    triggered_by: Literal["scheduler", "manual", "api", "retry"] | None = None
    job_id: uuid.UUID | None = None
    since: Instant | None = None
    until: Instant | None = None
    scheduled_since: Instant | None = None
    scheduled_until: Instant | None = None


class ExecutionList(ApiModel):
    """A page of executions."""

    executions: list[ExecutionSummary]
    total: int
    page: int
    per_page: int


# ---- job actions ------------------------------------------------------------------


class TriggerResponse(ApiModel):
    """A run started by Run now."""

    job_id: uuid.UUID
    execution_id: uuid.UUID
    rq_job_id: str
    message: str


class ActionResponse(ApiModel):
    """The job after an action."""

    job: Job
    message: str
