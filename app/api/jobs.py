"""Jobs: CRUD, actions and per-job history."""

from __future__ import annotations

import uuid
from typing import Any

from app.api import serializers, spec
from app.api.common import api_user, parse_body, parse_query, respond, trigger_source
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
from app.api.spec import links_to
from app.extensions import db
from app.models import ScheduledJob, utcnow
from app.queues import recurrence
from app.services.ledger.recurrence import rq_job_id
from app.services.scheduling import jobs, schedule

_RULE = "/jobs/<uuid:job_id>"
# A create or an edit can clash with another job's name (409).
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 422)
_JOB_LINKS = ("get_job", "put_job", "patch_job", "delete_job", "job_action", "job_history")
# What JSON Schema cannot say about a job body; the server answers 422 naming the field.
_JOB_RULES = (
    "Rules across fields, checked by the server (422 names the field): scheduleConfig must "
    "have the shape of jobType (the job's current type on update), and a cron expression "
    "must be valid and match a real date; jobTypeId, when sent, must be the id of jobType "
    "(GET /api/v1/job-types) and taskFunctionId the id of taskFunction (GET "
    "/api/v1/task-functions); taskFunction must be a registered, active task and taskArgs "
    "must match its argsSchema; endDate must be after startDate; a date job's runAt must "
    "not be in the past; ownerId must name an existing user. On create, a field left out "
    "takes the admins' default for new jobs where one is set (/settings/defaults: timezone, "
    "the retry policy, misfireGraceSeconds, maxInstances, queue), else the built-in default."
)


def _detail(job: ScheduledJob) -> JobDetail:
    """A job with its next five fire times and ten latest executions."""
    upcoming = schedule.upcoming(job, utcnow(), 5) if job.is_schedulable else []
    recent = jobs.recent_executions(db.session, job)
    return serializers.job_detail(job, upcoming, recent)


@spec.route(
    "/jobs",
    "GET",
    summary="List jobs",
    tag="jobs",
    query=JobListQuery,
    response=JobList,
    links=links_to("get_job", job_id="$response.body#/jobs/0/id"),
)
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
    errors=_WRITE_ERRORS,
    description=_JOB_RULES,
    links=links_to(*_JOB_LINKS, job_id="$response.body#/id"),
)
def create_job() -> Any:
    """Create a job owned by the caller."""
    body = parse_body(JobCreate)
    data = body.model_dump(exclude_unset=True)
    job = jobs.create_job(db.session, api_user(), data, utcnow(), recurrence())
    return respond(_detail(job), 201)


@spec.route(_RULE, "GET", summary="Read a job", tag="jobs", response=JobDetail)
def get_job(job_id: uuid.UUID) -> Any:
    """One job with upcoming fire times and recent executions."""
    return respond(_detail(jobs.get_job(db.session, api_user(), job_id)))


def _update(job_id: uuid.UUID) -> Any:
    body = parse_body(JobUpdate)
    data = body.model_dump(exclude_unset=True)
    job = jobs.update_job(db.session, api_user(), job_id, data, utcnow(), recurrence())
    return respond(_detail(job))


@spec.route(
    _RULE,
    "PUT",
    summary="Update a job",
    tag="jobs",
    body=JobUpdate,
    response=JobDetail,
    errors=_WRITE_ERRORS,
    description=_JOB_RULES,
)
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
    errors=_WRITE_ERRORS,
    description=_JOB_RULES,
)
def patch_job(job_id: uuid.UUID) -> Any:
    """Update the given fields of a job."""
    return _update(job_id)


@spec.route(_RULE, "DELETE", summary="Delete a job (soft)", tag="jobs", status=204)
def delete_job(job_id: uuid.UUID) -> Any:
    """Soft-delete a job; its history stays."""
    jobs.delete_job(db.session, api_user(), job_id, utcnow(), recurrence())
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
    description="resumeAt, when given with pause, must be in the future (422 otherwise).",
    links=links_to("get_execution", status=202, execution_id="$response.body#/executionId"),
)
def job_action(job_id: uuid.UUID) -> Any:
    """Apply an action to a job; ``trigger`` answers 202 with the new execution."""
    body = parse_body(JobAction)
    if body.action == "trigger":
        return _trigger(job_id)
    message = jobs.apply_action(
        db.session,
        api_user(),
        job_id,
        body.action,
        utcnow(),
        body.reason,
        body.resume_at,
        notifier=recurrence(),
    )
    job = jobs.get_job(db.session, api_user(), job_id)
    return respond(ActionResponse(job=serializers.job(job), message=message))


def _trigger(job_id: uuid.UUID) -> Any:
    """Run now: also for a paused job; recorded as triggered by the API or the UI."""
    execution = jobs.run_now(
        db.session, api_user(), job_id, trigger_source(), utcnow(), recurrence()
    )
    body = TriggerResponse(
        job_id=job_id,
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
    links=links_to("get_execution", execution_id="$response.body#/executions/0/id"),
)
def job_history(job_id: uuid.UUID) -> Any:
    """A page of one job's executions."""
    user = api_user()
    job = jobs.get_job(db.session, user, job_id)
    return history_page(user, parse_query(HistoryQuery), job_id=job.id)
