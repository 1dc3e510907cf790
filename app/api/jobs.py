"""Jobs: CRUD, actions and per-job history."""

from __future__ import annotations

import uuid
from typing import Any

from flask import g

from app.api import serializers, spec
from app.api.common import api_user, parse_body, parse_query, respond
from app.api.errors import ApiError
from app.api.executions import history_page
from app.api.schemas import (
    ActionResponse,
    ExecutionList,
    HistoryQuery,
    JobAction,
    JobCreate,
    JobDetail,
    JobList,
    JobListQuery,
    JobUpdate,
    TriggerResponse,
)
from app.extensions import db
from app.models import ScheduledJob, TriggeredBy, User, utcnow
from app.queues import notify_schedule_changed, recurrence
from app.services import jobs, runs, schedule
from app.services.errors import ServiceError
from app.services.recurrence import rq_job_id

_RULE = "/jobs/<uuid:job_id>"


def _detail(job: ScheduledJob) -> JobDetail:
    """A job with its next five fire times and ten latest executions."""
    upcoming = schedule.upcoming(job, utcnow(), 5) if job.is_schedulable else []
    recent = jobs.recent_executions(db.session, job)
    return serializers.job_detail(job, upcoming, recent)


@spec.route("/jobs", "GET", summary="List jobs", tag="jobs", query=JobListQuery, response=JobList)
def list_jobs() -> Any:
    """A filtered, sorted page of jobs with counts."""
    query = parse_query(JobListQuery)
    filters = jobs.JobFilters(**query.model_dump(exclude_none=True))
    page = jobs.list_jobs(db.session, api_user(), filters)
    return respond(
        JobList(
            jobs=[serializers.job(row) for row in page.jobs],
            total=page.total,
            page=query.page,
            per_page=query.per_page,
            enabled_count=page.enabled_count,
            disabled_count=page.disabled_count,
            running_count=page.running_count,
        )
    )


@spec.route(
    "/jobs",
    "POST",
    summary="Create a job",
    tag="jobs",
    body=JobCreate,
    response=JobDetail,
    status=201,
)
def create_job() -> Any:
    """Create a job owned by the caller."""
    body = parse_body(JobCreate)
    job = jobs.create_job(db.session, api_user(), body.model_dump(exclude_unset=True), utcnow())
    db.session.commit()
    notify_schedule_changed(job.id)
    return respond(_detail(job), 201)


@spec.route(_RULE, "GET", summary="Read a job", tag="jobs", response=JobDetail)
def get_job(job_id: uuid.UUID) -> Any:
    """One job with upcoming fire times and recent executions."""
    return respond(_detail(jobs.get_job(db.session, api_user(), job_id)))


def _update(job_id: uuid.UUID) -> Any:
    body = parse_body(JobUpdate)
    user = api_user()
    job = jobs.get_job(db.session, user, job_id)
    jobs.update_job(db.session, user, job, body.model_dump(exclude_unset=True), utcnow())
    db.session.commit()
    notify_schedule_changed(job.id)
    return respond(_detail(job))


@spec.route(_RULE, "PUT", summary="Update a job", tag="jobs", body=JobUpdate, response=JobDetail)
def put_job(job_id: uuid.UUID) -> Any:
    """Update the given fields of a job."""
    return _update(job_id)


@spec.route(
    _RULE,
    "PATCH",
    summary="Update some fields of a job",
    tag="jobs",
    body=JobUpdate,
    response=JobDetail,
)
def patch_job(job_id: uuid.UUID) -> Any:
    """Update the given fields of a job."""
    return _update(job_id)


@spec.route(_RULE, "DELETE", summary="Delete a job (soft)", tag="jobs", status=204)
def delete_job(job_id: uuid.UUID) -> Any:
    """Soft-delete a job; its history stays."""
    user = api_user()
    jobs.delete_job(db.session, user, jobs.get_job(db.session, user, job_id), utcnow())
    db.session.commit()
    notify_schedule_changed(job_id)
    return "", 204


@spec.route(
    _RULE + "/action",
    "POST",
    summary="Run now, pause, resume, enable or disable a job",
    tag="jobs",
    body=JobAction,
    response=ActionResponse,
    also={202: TriggerResponse},
    errors=(400, 401, 403, 404, 409, 413, 422, 503),
)
def job_action(job_id: uuid.UUID) -> Any:
    """Apply an action to a job; ``trigger`` answers 202 with the new execution."""
    body = parse_body(JobAction)
    user = api_user()
    job = jobs.get_job(db.session, user, job_id)
    if body.action == "trigger":
        return _trigger(job, user)
    message = jobs.apply_action(
        db.session, user, job, body.action, utcnow(), body.reason, body.resume_at
    )
    db.session.commit()
    notify_schedule_changed(job.id)
    return respond(ActionResponse(job=serializers.job(job), message=message))


def _trigger(job: ScheduledJob, user: User) -> Any:
    """Run now: also for a paused job; recorded as triggered by the API or the UI."""
    if not user.can_write:
        raise ApiError(403, "Viewers cannot run jobs.")
    via = TriggeredBy.API if g.get("auth_via") == "token" else TriggeredBy.MANUAL
    try:
        execution = runs.trigger(db.session, recurrence(), job, user, via, utcnow())
    except ServiceError as error:
        raise ApiError(503, error.message) from None
    body = TriggerResponse(
        job_id=job.id,
        execution_id=execution.id,
        rq_job_id=rq_job_id(execution.id),
        message="Run queued.",
    )
    return respond(body, 202)


@spec.route(
    _RULE + "/history",
    "GET",
    summary="Executions of a job",
    tag="history",
    query=HistoryQuery,
    response=ExecutionList,
)
def job_history(job_id: uuid.UUID) -> Any:
    """A page of one job's executions."""
    user = api_user()
    job = jobs.get_job(db.session, user, job_id)
    query = parse_query(HistoryQuery)
    return history_page(user, query, job_id=job.id)
