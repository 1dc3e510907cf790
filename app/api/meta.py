"""Lookups, schedule preview, status, cleanup and the OpenAPI document."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import jsonify

from app.api import serializers, spec
from app.api.common import api_user, parse_body, respond
from app.api.meta_schemas import (
    CleanupRequest,
    CleanupResponse,
    ExecutionStatusList,
    FireTime,
    JobTypeList,
    JobTypeOut,
    PreviewRequest,
    PreviewResponse,
    StatusResponse,
    TaskFunctionList,
    WaitingRunsOut,
)
from app.extensions import db
from app.models import ExecutionStatus, utcnow
from app.queues import redis_connection
from app.services import status
from app.services.ledger import retention
from app.services.scheduling import catalog, schedule
from app.version import __version__


@spec.route("/openapi.json", "GET", summary="This document", tag="meta", public=True, errors=())
def openapi() -> Any:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(spec.document("/api/v1", __version__))


@spec.route(
    "/schedule-preview",
    "POST",
    summary="Preview fire times",
    tag="jobs",
    body=PreviewRequest,
    response=PreviewResponse,
    errors=(400, 401, 413, 422),
)
def schedule_preview() -> Any:
    """The next fire times of a schedule, in UTC and in its zone, with DST flags."""
    body = parse_body(PreviewRequest)
    result = schedule.preview(
        body.job_type,
        body.schedule_config,
        body.timezone,
        body.start_date,
        body.end_date,
        body.count,
        utcnow(),
    )
    fire = [
        FireTime(utc=t.utc, local=t.local.isoformat(), shifted=t.shifted, repeated=t.repeated)
        for t in result.fire_times
    ]
    return respond(
        PreviewResponse(
            timezone=result.timezone,
            fire_times=fire,
            never_fires=result.never_fires,
            never_fires_reason=result.reason,
            description=result.description,
        )
    )


@spec.route(
    "/task-functions",
    "GET",
    summary="Registered tasks",
    tag="lookups",
    response=TaskFunctionList,
    errors=(401,),
)
def task_functions() -> Any:
    """Every active task function, with its argument schema."""
    api_user()
    items = [serializers.task_function(row) for row in catalog.active_task_functions(db.session)]
    return respond(TaskFunctionList(task_functions=items, total=len(items)))


@spec.route(
    "/job-types", "GET", summary="Job types", tag="lookups", response=JobTypeList, errors=(401,)
)
def job_types() -> Any:
    """interval, cron and date."""
    api_user()
    rows = catalog.active_job_types(db.session)
    return respond(
        JobTypeList(job_types=[JobTypeOut.model_validate(r, from_attributes=True) for r in rows])
    )


@spec.route(
    "/execution-statuses",
    "GET",
    summary="Execution statuses",
    tag="lookups",
    response=ExecutionStatusList,
    errors=(401,),
)
def execution_statuses() -> Any:
    """Every execution status and whether it is final."""
    api_user()
    statuses = [{"name": s.value, "isTerminal": s.is_terminal} for s in ExecutionStatus]
    return respond(ExecutionStatusList(statuses=statuses))


@spec.route(
    "/status", "GET", summary="Cluster status", tag="status", response=StatusResponse, errors=(401,)
)
def cluster_status() -> Any:
    """Instances, leader, queue depths; counts and the next job of the jobs the caller sees."""
    snapshot = status.cluster_status(db.session, api_user(), utcnow(), redis_connection())
    counts = snapshot.job_counts
    return respond(
        StatusResponse(
            is_running=snapshot.leader is not None,
            leader_instance=serializers.instance(snapshot.leader) if snapshot.leader else None,
            lease_expires_at=snapshot.lease_expires_at,
            instances=[serializers.instance(i) for i in snapshot.instances],
            total_jobs=counts["total"],
            enabled_jobs=counts["total"] - counts["disabled"],
            paused_jobs=counts["paused"],
            failed_jobs=counts["failed"],
            running_jobs=snapshot.running_jobs,
            execution_counts=snapshot.execution_counts,
            retry_counts=snapshot.retry_counts,
            delivery_counts=snapshot.delivery_counts,
            next_scheduled_job=serializers.job(snapshot.next_job) if snapshot.next_job else None,
            queues=snapshot.queues,
            redis=snapshot.redis,
            queue_ages=snapshot.queue_ages,
            waiting_runs=[WaitingRunsOut(**asdict(w)) for w in snapshot.waiting],
        )
    )


@spec.route(
    "/cleanup",
    "POST",
    summary="Delete old history",
    tag="history",
    body=CleanupRequest,
    response=CleanupResponse,
    errors=(400, 401, 403, 413, 422),
)
def cleanup() -> Any:
    """Delete finished executions older than N days (admins only)."""
    user = api_user()
    body = parse_body(CleanupRequest)
    deleted = retention.cleanup_history(db.session, user, body.older_than_days, utcnow())
    return respond(CleanupResponse(deleted=deleted))
