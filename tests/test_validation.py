"""Validation without HTTP: snake_case field paths in the services, camelCase in the API.

The limits live in one table (``services.limits``) read by both the service
checks and the API's schemas, so the two doors can never disagree.
"""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.api.errors import api_path
from app.api.schemas import JobCreate
from app.extensions import db
from app.models import ScheduledJob, utcnow
from app.services import limits
from app.services.errors import Invalid
from app.services.scheduling import jobs
from tests.conftest import JOB_DEFAULTS

JOB = JOB_DEFAULTS
API_JOB = {"name": "Every minute", "taskFunction": "noop", "scheduleConfig": {"minutes": 1}}


def service_fields(editor, **change):
    """The field paths a create with ``change`` is refused for, at the service."""
    with pytest.raises(Invalid) as refused:
        jobs.create_job(db.session, editor.user, JOB | change, utcnow())
    db.session.rollback()
    return refused.value.fields


@pytest.mark.parametrize(
    ("change", "service_path", "api_path_"),
    [
        (
            {"schedule_config": {"expression": "61 * * * *"}, "job_type": "cron"},
            "schedule_config.expression",
            "scheduleConfig.expression",
        ),
        (
            {"schedule_config": {"runAt": "2001-01-01T00:00:00"}, "job_type": "date"},
            "schedule_config.run_at",
            "scheduleConfig.runAt",
        ),
        ({"task_function": "http_request", "task_args": {}}, "task_args.url", "taskArgs.url"),
        ({"timezone": "Mars/Olympus"}, "timezone", "timezone"),
        ({"task_function": "no_such_task"}, "task_function", "taskFunction"),
    ],
)
def test_a_bad_field_is_named_in_snake_case_by_the_service_and_camel_case_by_the_api(
    api_as, editor, change, service_path, api_path_
):
    assert service_path in service_fields(editor, **change)
    api_change = {api_path(key): value for key, value in change.items()}
    response = api_as(editor).post("/jobs", API_JOB | api_change)
    assert response.status_code == 422, response.json
    assert api_path_ in response.json["error"]["fields"], response.json
    assert response.json["error"]["message"].startswith(api_path_)


@pytest.mark.parametrize("field", sorted(limits.JOB_NUMBERS))
def test_every_number_limit_is_checked_by_the_service_and_the_api(api_as, editor, field):
    bounds = limits.JOB_NUMBERS[field]
    for value in (bounds.low - 1, bounds.high + 1):
        assert field in service_fields(editor, **{field: value})
        response = api_as(editor).post("/jobs", API_JOB | {api_path(field): value})
        assert response.status_code == 422 and api_path(field) in response.json["error"]["fields"]
    job = jobs.create_job(db.session, editor.user, JOB | {field: bounds.high}, utcnow())
    assert getattr(job, field) == bounds.high


def test_the_api_schema_takes_its_bounds_from_the_limits_table():
    schema = JobCreate.model_json_schema(by_alias=True)["properties"]
    for field, bounds in limits.JOB_NUMBERS.items():
        [number] = [item for item in schema[api_path(field)]["anyOf"] if item.get("type")]
        assert (number["minimum"], number["maximum"]) == (bounds.low, bounds.high)
    name = schema["name"]
    assert (name["minLength"], name["maxLength"]) == (1, limits.NAME_LENGTH.high)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "bell\x07"}, "name"),
        ({"description": "d" * 1001}, "description"),
        ({"queue": "Not A Queue"}, "queue"),
        ({"retry_count": True}, "retry_count"),
        ({"task_args": {"blob": "x" * (limits.TASK_ARGS_MAX_BYTES + 1)}}, "task_args"),
    ],
)
def test_limits_the_api_schemas_check_are_checked_by_the_service_too(editor, change, path):
    assert path in service_fields(editor, **change)


@pytest.mark.parametrize("field", ["name", "retry_count", "schedule_config", "is_enabled"])
def test_an_update_may_not_clear_a_field_that_always_has_a_value(editor, make_job, field):
    job = make_job(editor)
    with pytest.raises(Invalid) as refused:
        jobs.update_job(db.session, editor.user, job.id, {field: None}, utcnow())
    assert field in refused.value.fields


def test_all_bad_fields_are_reported_at_once(editor):
    fields = service_fields(editor, retry_count=-1, jitter_seconds=4000, timezone="Nowhere/Else")
    assert {"retry_count", "jitter_seconds"} <= set(fields)


def test_service_names_the_resume_time_in_snake_case_and_api_in_camel_case(
    api_as, editor, make_job
):
    job = make_job(editor)
    now = utcnow()
    with pytest.raises(Invalid) as refused:
        jobs.apply_action(db.session, editor.user, job, "pause", now, resume_at=now)
    assert set(refused.value.fields) == {"resume_at"}
    response = api_as(editor).post(
        f"/jobs/{job.id}/action", {"action": "pause", "resumeAt": "2001-01-01T00:00:00Z"}
    )
    assert response.status_code == 422 and set(response.json["error"]["fields"]) == {"resumeAt"}
    assert response.json["error"]["message"] == "The resume time must be in the future."


def test_task_argument_names_are_passed_through_as_the_task_declares_them():
    assert api_path("task_args.older_than_days") == "taskArgs.older_than_days"
    assert api_path("schedule_config.run_at") == "scheduleConfig.runAt"
    assert api_path("max_consecutive_failures") == "maxConsecutiveFailures"


# --- a write is whole: committed, then the scheduler is told ---------------------------------


class Recorder:
    """A Notifier that remembers what it was told (or fails like a Redis that is down)."""

    def __init__(self, fail: bool = False) -> None:
        self.changed: list = []
        self.fail = fail

    def mark_changed(self, job_id):
        if self.fail:
            raise RedisConnectionError("down")
        self.changed.append(job_id)


def test_every_job_write_commits_and_then_tells_the_scheduler(editor):
    told = Recorder()
    job = jobs.create_job(db.session, editor.user, JOB, utcnow(), told)
    jobs.update_job(db.session, editor.user, job.id, {"name": "renamed"}, utcnow(), told)
    jobs.apply_action(db.session, editor.user, job.id, "pause", utcnow(), notifier=told)
    jobs.delete_job(db.session, editor.user, job.id, utcnow(), told)
    assert told.changed == [job.id] * 4
    db.session.rollback()  # nothing uncommitted is left to lose
    row = db.session.get(ScheduledJob, job.id)
    assert row.name == "renamed" and row.is_paused and row.deleted_at is not None


def test_an_unchanged_update_does_not_bother_the_scheduler(editor, make_job):
    job = make_job(editor)
    told = Recorder()
    jobs.update_job(db.session, editor.user, job.id, {"name": job.name}, utcnow(), told)
    assert told.changed == []


def test_a_write_stays_committed_when_redis_is_down(editor):
    job = jobs.create_job(db.session, editor.user, JOB, utcnow(), Recorder(fail=True))
    db.session.rollback()
    assert db.session.get(ScheduledJob, job.id) is not None


def test_a_refused_write_tells_nobody(editor, viewer, make_job):
    job = make_job(editor)
    told = Recorder()
    with pytest.raises(Invalid):
        jobs.update_job(db.session, editor.user, job.id, {"retry_count": -1}, utcnow(), told)
    assert told.changed == []
