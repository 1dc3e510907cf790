"""Write-only task arguments: stored and sent, never shown again; an edit keeps them."""

from __future__ import annotations

import uuid

import pytest

from app.extensions import db
from app.models import AuditEvent, ScheduledJob, utcnow
from app.services.scheduling import audit, jobs, sensitive

SECRET = "Bearer s3cr3t-token-value"
HTTP_JOB = {
    "name": "Call the API",
    "taskFunction": "http_request",
    "scheduleConfig": {"minutes": 5},
    "taskArgs": {"url": "https://api.example.com/ping", "headers": {"Authorization": SECRET}},
}


@pytest.fixture
def http_job(api_as, editor):
    response = api_as(editor).post("/jobs", HTTP_JOB)
    assert response.status_code == 201, response.get_json()
    assert SECRET not in response.get_data(as_text=True)
    return response.get_json()


def stored(job_id):
    db.session.expire_all()
    return db.session.get(ScheduledJob, uuid.UUID(job_id)).task_args


def test_the_task_schema_marks_header_values_write_only(api_as, viewer):
    listed = api_as(viewer).get("/task-functions").get_json()["taskFunctions"]
    schema = next(t for t in listed if t["name"] == "http_request")["argsSchema"]
    assert schema["properties"]["headers"]["additionalProperties"]["writeOnly"] is True


def test_no_read_returns_a_write_only_value(api_as, editor, viewer, admin, http_job):
    assert http_job["taskArgs"]["headers"] == {"Authorization": sensitive.PLACEHOLDER}
    assert stored(http_job["id"])["headers"]["Authorization"] == SECRET
    for persona in (editor, viewer, admin):
        api = api_as(persona)
        for path in (f"/jobs/{http_job['id']}", "/jobs", "/status"):
            response = api.get(path)
            assert response.status_code == 200
            assert SECRET not in response.get_data(as_text=True), (persona, path)


def test_the_audit_trail_never_holds_a_write_only_value(api_as, editor, admin, http_job):
    changed = {"taskArgs": {"url": "https://api.example.com/v2", "headers": {"X-Key": "other"}}}
    api_as(editor).patch(f"/jobs/{http_job['id']}", changed)
    events = db.session.query(AuditEvent).all()
    assert len(events) == 2
    assert all(SECRET not in str(e.changes) and "other" not in str(e.changes) for e in events)
    page = audit.list_events(db.session, admin.user, job_id=uuid.UUID(http_job["id"]))
    assert page.items


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "set"}, {"Authorization": ""}, None],
    ids=["placeholder", "empty", "left-out"],
)
def test_an_edit_that_does_not_resend_the_value_keeps_it(api_as, editor, http_job, headers):
    args = {"url": "https://api.example.com/v2"}
    if headers is not None:
        args["headers"] = headers
    response = api_as(editor).patch(f"/jobs/{http_job['id']}", {"taskArgs": args})
    assert response.status_code == 200, response.get_json()
    assert stored(http_job["id"])["headers"] == {"Authorization": SECRET}
    assert stored(http_job["id"])["url"] == "https://api.example.com/v2"


def test_an_edit_can_replace_or_remove_the_value(api_as, editor, http_job):
    api = api_as(editor)
    args = {"url": "https://api.example.com/ping", "headers": {"Authorization": "Bearer new"}}
    api.put(f"/jobs/{http_job['id']}", {"taskArgs": args})
    assert stored(http_job["id"])["headers"] == {"Authorization": "Bearer new"}
    api.put(f"/jobs/{http_job['id']}", {"taskArgs": args | {"headers": {}}})
    assert stored(http_job["id"])["headers"] == {}


def test_the_service_keeps_the_value_for_any_door(editor, http_job):
    job = db.session.get(ScheduledJob, uuid.UUID(http_job["id"]))
    form = {"task_args": {"url": "https://api.example.com/form", "headers": {"Authorization": ""}}}
    jobs.update_job(db.session, editor.user, job, form, utcnow())
    assert stored(http_job["id"])["headers"] == {"Authorization": SECRET}


def test_redact_and_merge_leave_other_tasks_alone():
    args = {"seconds": 3}
    assert sensitive.redact("sleep", args) == args
    assert sensitive.merge_kept("sleep", {"seconds": 1}, {}) == {}
    assert not sensitive.has_write_only("sleep") and sensitive.has_write_only("http_request")
