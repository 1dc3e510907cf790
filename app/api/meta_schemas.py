"""Request and response shapes of the schedule preview, lookups, status and cleanup."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from app.api.constraints import Whole
from app.api.schemas import (
    ApiModel,
    Job,
    JsonObject,
    RequestModel,
    ScheduleConfig,
    TimezoneName,
    WallTime,
)
from app.services import limits


class PreviewRequest(RequestModel):
    """What to preview."""

    job_type: Literal["interval", "cron", "date"]
    schedule_config: ScheduleConfig
    timezone: TimezoneName = "UTC"
    start_date: WallTime | None = None
    end_date: WallTime | None = None
    count: Annotated[int, Whole(limits.PREVIEW_COUNT)] = 5


class FireTime(ApiModel):
    """One fire time in UTC and in the job's zone, with how DST moved or doubled it."""

    utc: datetime
    local: str
    # The wall time named does not exist that day (spring forward): moved to the gap's end.
    shifted: bool = False
    # The wall time occurs twice that day (fall back); ``local``'s offset tells which.
    repeated: bool = False


class PreviewResponse(ApiModel):
    """The next fire times, or why the schedule never fires."""

    timezone: str
    fire_times: list[FireTime]
    never_fires: bool = False
    never_fires_reason: str | None = None
    description: str | None = Field(
        default=None, description='Cron only: e.g. "on days 1 and 15, or on Mondays".'
    )


class TaskFunctionOut(ApiModel):
    """A registered task."""

    id: int
    name: str
    display_name: str
    description: str | None
    handler_path: str
    handler_type: str
    queue: str
    default_timeout_seconds: int
    args_schema: JsonObject
    is_active: bool
    is_system: bool
    created_at: datetime


class TaskFunctionList(ApiModel):
    """Every active registered task."""

    task_functions: list[TaskFunctionOut]
    total: int


class JobTypeOut(ApiModel):
    """A trigger kind."""

    id: int
    name: str
    display_name: str
    description: str | None


class JobTypeList(ApiModel):
    """Every trigger kind."""

    job_types: list[JobTypeOut]


class ExecutionStatusList(ApiModel):
    """Every execution status, with whether it is final."""

    statuses: list[dict[str, str | bool]]


class InstanceOut(ApiModel):
    """A running (or lately running) Almanac process."""

    id: uuid.UUID
    hostname: str
    pid: int
    role: str
    is_leader: bool
    leader_since: datetime | None
    last_heartbeat: datetime
    started_at: datetime
    stopped_at: datetime | None
    version: str


class WaitingRunsOut(ApiModel):
    """A job's runs waiting: queued for a worker, or held for a free instance."""

    job_id: uuid.UUID
    name: str
    queued: int
    held: int


class StatusResponse(ApiModel):
    """What is known about the cluster."""

    is_running: bool
    leader_instance: InstanceOut | None
    lease_expires_at: datetime | None
    instances: list[InstanceOut]
    total_jobs: int
    enabled_jobs: int
    paused_jobs: int
    failed_jobs: int
    running_jobs: int
    execution_counts: dict[str, int]
    retry_counts: dict[str, int]
    delivery_counts: dict[str, int]
    next_scheduled_job: Job | None
    queues: dict[str, int]
    redis: dict[str, str | bool]
    queue_ages: dict[str, float] = Field(
        default_factory=dict,
        description="Seconds the oldest queued run of each queue has waited (a saturated pool).",
    )
    waiting_runs: list[WaitingRunsOut] = Field(
        default_factory=list,
        description="The jobs with the most runs waiting (queued or held), most first; top 10.",
    )


class CleanupRequest(RequestModel):
    """Delete history older than this many days."""

    older_than_days: Annotated[int, Whole(limits.HISTORY_DAYS)]


class CleanupResponse(ApiModel):
    """How many executions were deleted."""

    deleted: int
