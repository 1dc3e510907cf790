"""Smaller holes of issue 11: content types, rate-limit answers, names, statuses, the catalogue."""

from __future__ import annotations

import ipaddress
import os
from datetime import UTC, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import ScheduledJob, TaskFunction, utcnow
from app.services.errors import Invalid
from app.services.scheduling import jobs
from tests.conftest import JOB_DEFAULTS, PASSWORD, fresh_database, make_app
from tests.test_auth import post_login

BODIES = [
    ("POST", "/jobs", {"name": "n", "taskFunction": "noop", "scheduleConfig": {"minutes": 1}}),
    ("PUT", "/jobs/{job}", {"name": "n2"}),
    ("PATCH", "/jobs/{job}", {"name": "n3"}),
    ("POST", "/jobs/{job}/action", {"action": "pause"}),
    ("POST", "/schedule-preview", {"jobType": "interval", "scheduleConfig": {"minutes": 1}}),
    ("POST", "/cleanup", {"olderThanDays": 30}),
    ("POST", "/retries/bulk", {"action": "discard"}),
    ("POST", "/webhooks", {"url": "https://example.com/hook", "phase": "failed"}),
    ("PUT", "/webhooks/{hook}", {"isActive": False}),
]


@pytest.fixture
def targets(api_as, admin, make_job):
    job = make_job(admin)
    hook = api_as(admin).post("/webhooks", {"url": "https://example.com/h", "phase": "failed"})
    return {"job": job.id, "hook": hook.get_json()["id"]}


@pytest.mark.parametrize(("method", "path", "body"), BODIES)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_declared_json_is_a_415(
    api_as, admin, targets, method, path, body, content_type
):
    import json

    response = api_as(admin).call(
        method,
        path.format(**targets),
        data=json.dumps(body),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_json_with_a_charset_is_accepted(api_as, admin):
    body = b'{"name": "n", "taskFunction": "noop", "scheduleConfig": {"minutes": 1}}'
    headers = {"Content-Type": "application/json; charset=utf-8"}
    assert api_as(admin).post("/jobs", data=body, headers=headers).status_code == 201


def test_a_rate_limited_login_says_when_to_retry(client, editor):
    for _ in range(10):
        post_login(client, "editor@example.com", "wrong password")
    response = post_login(client, "editor@example.com", PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


# --- job names are unique per owner, whatever the case ------------------------------------

JOB = {"taskFunction": "noop", "scheduleConfig": {"minutes": 5}}


def test_a_second_job_with_the_same_name_is_a_409_naming_the_clash(api_as, editor):
    api = api_as(editor)
    assert api.post("/jobs", JOB | {"name": "Nightly Report"}).status_code == 201
    response = api.post("/jobs", JOB | {"name": "nightly report"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert "Nightly Report" in error["message"] and "name" in error["fields"]


def test_names_are_per_owner_and_free_again_once_deleted(api_as, editor, outsider):
    first = api_as(editor).post("/jobs", JOB | {"name": "Report"}).get_json()
    assert api_as(outsider).post("/jobs", JOB | {"name": "Report"}).status_code == 201
    assert api_as(editor).delete(f"/jobs/{first['id']}").status_code == 204
    assert api_as(editor).post("/jobs", JOB | {"name": "REPORT"}).status_code == 201


def test_renaming_into_a_clash_is_a_409(api_as, editor):
    api = api_as(editor)
    api.post("/jobs", JOB | {"name": "One"})
    two = api.post("/jobs", JOB | {"name": "Two"}).get_json()
    assert api.patch(f"/jobs/{two['id']}", {"name": "ONE"}).status_code == 409
    assert api.patch(f"/jobs/{two['id']}", {"name": "two"}).status_code == 200


def test_the_database_refuses_a_clash_the_service_did_not_see(make_job, editor):
    job = make_job(editor, name="Unique")
    twin = ScheduledJob(
        name="UNIQUE",
        task_function_id=job.task_function_id,
        job_type_id=job.job_type_id,
        owner_id=editor.id,
    )
    db.session.add(twin)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


# --- http_request URLs get the webhooks' creation-time check --------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://127.1/",
    ],
)
def test_an_http_job_to_a_forbidden_address_is_refused_when_created(api_as, editor, url):
    body = JOB | {"name": "Probe", "taskFunction": "http_request", "taskArgs": {"url": url}}
    response = api_as(editor).post("/jobs", body)
    assert response.status_code == 422
    assert "refusing" in response.get_json()["error"]["fields"]["taskArgs.url"]


def test_an_http_job_cannot_be_moved_to_a_forbidden_address(api_as, editor):
    args = {"url": "https://api.example.com/"}
    body = JOB | {"name": "Call", "taskFunction": "http_request", "taskArgs": args}
    job = api_as(editor).post("/jobs", body).get_json()
    changed = {"taskArgs": {"url": "http://169.254.169.254/"}}
    response = api_as(editor).patch(f"/jobs/{job['id']}", changed)
    assert response.status_code == 422
    assert "cloud metadata" in response.get_json()["error"]["fields"]["taskArgs.url"]


def test_refusals_read_as_english():
    from app.netguard import AddressRefused, Policy

    with pytest.raises(AddressRefused, match="an unspecified address"):
        Policy().check(ipaddress.ip_address("0.0.0.0"))


# --- the task catalogue follows the registry without `flask sync-tasks` ---------------------


def test_each_process_start_fills_the_task_catalogue(tmp_path):
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    with fresh_database(base, tmp_path) as url:
        before = make_app(url)  # no tables yet: starting must not fail
        with before.app_context():
            upgrade()
            assert db.session.scalar(select(func.count()).select_from(TaskFunction)) == 0
            db.session.remove()
        after = make_app(url)
        with after.app_context():
            names = set(db.session.scalars(select(TaskFunction.name)))
            db.session.remove()
            db.engine.dispose()
        with before.app_context():
            db.engine.dispose()
    assert {"noop", "http_request", "cleanup_history"} <= names


# --- names refuse bidi controls; a one-off that ran reads "finished" ------------------------


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069"])
def test_bidi_controls_are_refused_in_names_through_api_and_service(api_as, editor, char):
    name = f"invoice{char}fdp.exe"
    response = api_as(editor).post("/jobs", JOB | {"name": name})
    assert response.status_code == 422
    assert "name" in response.get_json()["error"]["fields"]
    with pytest.raises(Invalid) as refused:
        jobs.create_job(db.session, editor.user, JOB_DEFAULTS | {"name": name}, utcnow())
    assert "name" in refused.value.fields


def test_a_left_to_right_mark_is_still_allowed(api_as, editor):
    assert api_as(editor).post("/jobs", JOB | {"name": "abc\u200edef"}).status_code == 201


def test_a_one_off_that_has_run_reads_finished(api_as, editor, make_job):
    start = datetime(2030, 1, 1, tzinfo=UTC)
    job = make_job(editor, now=start, schedule_config={"runAt": "2030-01-02T09:00:00"})
    other = make_job(editor)
    api = api_as(editor)
    assert api.get(f"/jobs/{job.id}").get_json()["status"] == "active"
    # What the engine leaves once the only slot fired.
    job.last_run_time, job.next_run_time = datetime(2030, 1, 2, 9, tzinfo=UTC), None
    db.session.commit()
    shown = api.get(f"/jobs/{job.id}").get_json()
    assert (shown["status"], shown["nextRunTime"]) == ("finished", None)
    assert [j["id"] for j in api.get("/jobs?status=finished").get_json()["jobs"]] == [str(job.id)]
    assert [j["id"] for j in api.get("/jobs?status=active").get_json()["jobs"]] == [str(other.id)]


def test_two_creates_racing_past_the_check_still_get_a_409(api_as, editor, monkeypatch):
    api_as(editor).post("/jobs", JOB | {"name": "Racer"})
    monkeypatch.setattr(jobs, "require_unique_name", lambda *args: None)
    response = api_as(editor).post("/jobs", JOB | {"name": "racer"})
    assert response.status_code == 409
    assert "Racer" in response.get_json()["error"]["message"] or "racer" in str(response.json)
