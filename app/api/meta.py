"""Lookups, schedule preview, status, cleanup and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import jsonify
from sqlalchemy import select

from app import timemath
from app.api import serializers, spec
from app.api.common import api_user, parse_body, respond
from app.api.errors import ApiError
from app.api.schemas import (
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
)
from app.extensions import db
from app.models import ExecutionStatus, JobType, Role, TaskFunction, utcnow
from app.services import job_fields, retention, status
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
    """The next fire times of a schedule, in UTC and in its zone."""
    body = parse_body(PreviewRequest)
    try:
        zone = timemath.parse_timezone(body.timezone)
        trigger = timemath.parse_trigger(body.job_type, body.schedule_config)
    except timemath.ScheduleError as error:
        field = (
            error.field
            if error.field in ("timezone", "jobType")
            else (
                f"scheduleConfig.{error.field}" if error.field != "scheduleConfig" else error.field
            )
        )
        raise ApiError(422, error.message, {field: error.message}) from None
    start = job_fields.localize(body.start_date, zone)
    end = job_fields.localize(body.end_date, zone)
    now = utcnow()
    after = max(now, start - timedelta(microseconds=1)) if start else now
    times = timemath.fire_times(
        trigger, zone, after, body.count, anchor=start or now, start=start, end=end
    )
    fire = [FireTime(utc=t, local=t.astimezone(zone).isoformat()) for t in times]
    return respond(PreviewResponse(timezone=zone.key, fire_times=fire))


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
    rows = db.session.scalars(
        select(TaskFunction).where(TaskFunction.is_active).order_by(TaskFunction.name)
    ).all()
    items = [serializers.task_function(row) for row in rows]
    return respond(TaskFunctionList(task_functions=items, total=len(items)))


@spec.route(
    "/job-types", "GET", summary="Job types", tag="lookups", response=JobTypeList, errors=(401,)
)
def job_types() -> Any:
    """interval, cron and date."""
    api_user()
    rows = db.session.scalars(select(JobType).where(JobType.is_active).order_by(JobType.id)).all()
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
    """Instances, leader, counts, next job and queue depths."""
    api_user()
    snapshot = status.cluster_status(db.session, utcnow())
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
    api_user(Role.ADMIN)
    body = parse_body(CleanupRequest)
    deleted = retention.purge_before(db.session, utcnow() - timedelta(days=body.older_than_days))
    return respond(CleanupResponse(deleted=deleted))
