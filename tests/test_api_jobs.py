"""Jobs API: create, read, update, delete, list, actions, ownership."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, ScheduledJob

CRON_JOB = {
    "name": "Nightly report",
    "taskFunction": "http_request",
    "jobType": "cron",
    "scheduleConfig": {"expression": "30 2 * * *"},
    "timezone": "Europe/Berlin",
    "taskArgs": {"method": "GET", "url": "https://example.com/health"},
    "retryCount": 3,
    "retryDelaySeconds": 60,
    "retryBackoff": "exponential",
}


def test_create_cron_job_returns_job_with_next_run_times(api_as, editor):
    response = api_as(editor).post("/jobs", CRON_JOB)
    assert response.status_code == 201, response.json
    job = response.json
    assert job["taskFunction"] == "http_request"
    assert job["jobType"] == "cron"
    assert job["ownerId"] == str(editor.id)
    assert job["status"] == "active"
    assert job["taskArgs"]["timeout"] == 30  # default filled in from the task's schema
    assert len(job["nextRunTimes"]) == 5
    assert all(t.endswith("Z") for t in job["nextRunTimes"])
    # 02:30 in Berlin is 00:30 or 01:30 UTC depending on DST.
    assert {t[11:16] for t in job["nextRunTimes"]} <= {"00:30", "01:30"}
    assert job["nextRunTime"] == job["nextRunTimes"][0]


def test_create_accepts_seed_ids_and_infers_job_type(api_as, editor):
    lookups = api_as(editor).get("/task-functions").json["taskFunctions"]
    noop_id = next(t["id"] for t in lookups if t["name"] == "noop")
    response = api_as(editor).post(
        "/jobs", {"name": "by id", "taskFunctionId": noop_id, "scheduleConfig": {"seconds": 90}}
    )
    assert response.status_code == 201, response.json
    assert response.json["jobType"] == "interval"
    assert response.json["taskFunction"] == "noop"


def test_one_off_job_in_zone(api_as, editor):
    body = {
        "name": "once",
        "taskFunction": "noop",
        "jobType": "date",
        "scheduleConfig": {"runAt": "2099-12-01T09:00:00"},
        "timezone": "America/New_York",
    }
    response = api_as(editor).post("/jobs", body)
    assert response.status_code == 201, response.json
    assert response.json["nextRunTimes"] == ["2099-12-01T14:00:00Z"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scheduleConfig": {"expression": "61 * * * *"}}, "scheduleConfig.expression"),
        ({"scheduleConfig": {"expression": "0 0 30 2 *"}}, "scheduleConfig.expression"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"taskFunction": "os.system"}, "taskFunction"),
        ({"taskFunctionId": 999999}, "taskFunctionId"),
        ({"taskArgs": {"url": "ftp://example.com"}}, "taskArgs.url"),
        ({"taskArgs": {"method": "GET"}}, "taskArgs.url"),
        ({"taskArgs": {"url": "https://x.org", "bogus": 1}}, "taskArgs.bogus"),
        ({"retryCount": -1}, "retryCount"),
        ({"retryCount": "3"}, "retryCount"),
        ({"maxInstances": 0}, "maxInstances"),
        ({"retryBackoff": "quadratic"}, "retryBackoff"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "bad\x00name"}, "name"),
        ({"unknownField": 1}, "unknownField"),
        ({"jobType": "weekly"}, "jobType"),
        ({"startDate": "2030-01-02T00:00:00Z", "endDate": "2030-01-01T00:00:00Z"}, "endDate"),
        ({"queue": "Bad Queue!"}, "queue"),
    ],
)
def test_create_rejects_bad_field_with_its_name(api_as, editor, change, field):
    response = api_as(editor).post("/jobs", CRON_JOB | change)
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    assert db.session.scalar(select(ScheduledJob.id)) is None  # nothing half-written


def test_one_off_in_the_past_is_refused(api_as, editor):
    body = {"name": "late", "taskFunction": "noop", "scheduleConfig": {"runAt": "2001-01-01T00:00"}}
    response = api_as(editor).post("/jobs", body)
    assert response.status_code == 422
    assert "scheduleConfig.runAt" in response.json["error"]["fields"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[]", b'"text"'])
def test_malformed_body_is_a_clear_4xx(api_as, editor, raw):
    response = api_as(editor).post("/jobs", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert response.json["error"]["message"]


def test_read_update_and_audit(api_as, editor, make_job):
    job = make_job(editor)
    api = api_as(editor)
    response = api.patch(
        f"/jobs/{job.id}", {"description": "changed", "scheduleConfig": {"hours": 2}}
    )
    assert response.status_code == 200, response.json
    assert response.json["description"] == "changed"
    assert response.json["scheduleConfig"] == {"hours": 2}
    put = api.put(f"/jobs/{job.id}", {"timezone": "Asia/Kolkata"})
    assert put.status_code == 200 and put.json["timezone"] == "Asia/Kolkata"
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.job_id == job.id).order_by(AuditEvent.created_at)
    ).all()
    assert [e.action for e in events] == ["created", "updated", "updated"]
    assert events[1].changes["schedule_config"] == {"from": {"minutes": 1}, "to": {"hours": 2}}


def test_update_validates_args_against_new_task(api_as, editor, make_job):
    job = make_job(editor, task_function="sleep", task_args={"seconds": 5})
    response = api_as(editor).patch(f"/jobs/{job.id}", {"taskFunction": "noop"})
    assert response.status_code == 422
    assert "taskArgs.seconds" in response.json["error"]["fields"]


def test_soft_delete_hides_job_but_keeps_row(api_as, editor, make_job):
    job = make_job(editor)
    api = api_as(editor)
    assert api.delete(f"/jobs/{job.id}").status_code == 204
    assert api.get(f"/jobs/{job.id}").status_code == 404
    assert api.get("/jobs").json["total"] == 0
    db.session.expire_all()
    row = db.session.get(ScheduledJob, job.id)
    assert row.deleted_at is not None and row.next_run_time is None


def test_list_pagination_search_filter_sort(api_as, editor, make_job):
    for name in ["alpha", "beta", "gamma", "delta"]:
        make_job(editor, name=name, description=f"{name} job")
    make_job(editor, name="cron one", schedule_config={"expression": "0 * * * *"})
    api = api_as(editor)
    page = api.get("/jobs?perPage=2&page=2&sort=name").json
    assert [j["name"] for j in page["jobs"]] == ["cron one", "delta"]
    assert page["total"] == 5 and page["enabledCount"] == 5 and page["disabledCount"] == 0
    assert [j["name"] for j in api.get("/jobs?q=ELT").json["jobs"]] == ["delta"]
    assert [j["name"] for j in api.get("/jobs?jobType=cron").json["jobs"]] == ["cron one"]
    assert api.get("/jobs?taskFunction=sleep").json["total"] == 0
    desc = [j["name"] for j in api.get("/jobs?sort=-name").json["jobs"]]
    assert desc == sorted(desc, reverse=True)
    assert api.get("/jobs?q=100%25").json["total"] == 0  # LIKE wildcards are literal


def test_list_rejects_bad_query(api_as, editor):
    response = api_as(editor).get("/jobs?perPage=1000&sort=evil")
    assert response.status_code == 422
    assert {"perPage", "sort"} <= set(response.json["error"]["fields"])


def test_pause_with_reason_and_resume(api_as, editor, make_job):
    job = make_job(editor)
    api = api_as(editor)
    paused = api.post(
        f"/jobs/{job.id}/action",
        {"action": "pause", "reason": "maintenance", "resumeAt": "2099-01-01T00:00:00Z"},
    )
    assert paused.status_code == 200, paused.json
    assert paused.json["job"]["status"] == "paused"
    assert paused.json["job"]["pausedReason"] == "maintenance"
    assert paused.json["job"]["resumeAt"] == "2099-01-01T00:00:00Z"
    assert paused.json["job"]["nextRunTime"] is None
    assert api.get(f"/jobs/{job.id}").json["nextRunTimes"] == []
    resumed = api.post(f"/jobs/{job.id}/action", {"action": "resume"})
    assert resumed.json["job"]["status"] == "active"
    assert resumed.json["job"]["nextRunTime"] is not None
    again = api.post(f"/jobs/{job.id}/action", {"action": "resume"})
    assert again.status_code == 409


def test_pause_resume_time_must_be_future(api_as, editor, make_job):
    job = make_job(editor)
    response = api_as(editor).post(
        f"/jobs/{job.id}/action", {"action": "pause", "resumeAt": "2001-01-01T00:00:00Z"}
    )
    assert response.status_code == 422
    assert "resumeAt" in response.json["error"]["fields"]


def test_disable_and_enable(api_as, editor, make_job):
    job = make_job(editor)
    api = api_as(editor)
    assert (
        api.post(f"/jobs/{job.id}/action", {"action": "disable"}).json["job"]["status"]
        == "disabled"
    )
    listing = api.get("/jobs?status=disabled").json
    assert listing["total"] == 1 and listing["disabledCount"] == 1
    assert (
        api.post(f"/jobs/{job.id}/action", {"action": "enable"}).json["job"]["status"] == "active"
    )


def test_unknown_action_is_422(api_as, editor, make_job):
    job = make_job(editor)
    response = api_as(editor).post(f"/jobs/{job.id}/action", {"action": "explode"})
    assert response.status_code == 422 and "action" in response.json["error"]["fields"]


# ---- ownership and roles ------------------------------------------------------


def test_without_auth_is_401(api_as, app):
    response = api_as(None).get("/jobs")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_bad_token_is_401(client, app):
    for header in ["Bearer nope", "Basic abc", "Bearer "]:
        response = client.get("/api/v1/jobs", headers={"Authorization": header})
        assert response.status_code == 401


def test_editor_cannot_see_or_touch_others_jobs(api_as, editor, outsider, make_job):
    job = make_job(editor)
    api = api_as(outsider)
    assert api.get(f"/jobs/{job.id}").status_code == 404
    assert api.patch(f"/jobs/{job.id}", {"name": "mine now"}).status_code == 404
    assert api.delete(f"/jobs/{job.id}").status_code == 404
    assert api.post(f"/jobs/{job.id}/action", {"action": "pause"}).status_code == 404
    assert api.get(f"/jobs/{job.id}/history").status_code == 404
    assert api.get("/jobs").json["total"] == 0


def test_viewer_reads_everything_but_changes_nothing(api_as, editor, viewer, make_job):
    job = make_job(editor)
    api = api_as(viewer)
    assert api.get(f"/jobs/{job.id}").status_code == 200
    assert api.get("/jobs").json["total"] == 1
    assert api.post("/jobs", CRON_JOB).status_code == 403
    assert api.patch(f"/jobs/{job.id}", {"name": "x"}).status_code == 403
    assert api.delete(f"/jobs/{job.id}").status_code == 403
    assert api.post(f"/jobs/{job.id}/action", {"action": "pause"}).status_code == 403


def test_admin_sees_all_and_may_assign_owner(api_as, admin, editor, make_job):
    make_job(editor)
    api = api_as(admin)
    assert api.get("/jobs").json["total"] == 1
    response = api.post("/jobs", CRON_JOB | {"ownerId": str(editor.id)})
    assert response.status_code == 201
    assert response.json["ownerId"] == str(editor.id)


def test_editor_may_not_assign_owner(api_as, editor, outsider):
    response = api_as(editor).post("/jobs", CRON_JOB | {"ownerId": str(outsider.id)})
    assert response.status_code == 403


def test_unknown_owner_is_422(api_as, admin):
    response = api_as(admin).post(
        "/jobs", CRON_JOB | {"ownerId": "00000000-0000-0000-0000-000000000000"}
    )
    assert response.status_code == 422 and "ownerId" in response.json["error"]["fields"]


def test_non_uuid_path_is_404_json(api_as, editor):
    response = api_as(editor).get("/jobs/not-a-uuid")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "field", ["name", "retryCount", "isEnabled", "timezone", "ownerId", "jobType"]
)
@pytest.mark.parametrize("method", ["put", "patch"])
def test_null_for_a_required_field_is_422_not_500(api_as, editor, make_job, method, field):
    job = make_job(editor)
    response = getattr(api_as(editor), method)(f"/jobs/{job.id}", {field: None})
    assert response.status_code == 422, response.json
    assert response.json["error"]["fields"] == {field: "Value error, must not be null"}


def test_null_clears_an_optional_field(api_as, editor, make_job):
    job = make_job(editor, description="something", queue="reports")
    response = api_as(editor).patch(f"/jobs/{job.id}", {"description": None, "queue": None})
    assert response.status_code == 200
    assert response.json["description"] is None
    assert response.json["queue"] == "default"  # back to the task's own queue


def test_openapi_marks_only_optional_job_fields_nullable(client):
    schema = client.get("/api/v1/openapi.json").json["components"]["schemas"]["JobUpdate"]
    props = schema["properties"]
    assert {"type": "null"} not in props["name"].get("anyOf", [])
    assert {"type": "null"} in props["description"]["anyOf"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"jobType": "date", "scheduleConfig": {"runAt": "9999-12-31T23:00:00"}},
            "scheduleConfig.runAt",
        ),
        ({"startDate": "9999-12-31T23:00:00Z"}, "startDate"),
        ({"endDate": "0001-01-01T00:00:00Z"}, "endDate"),
    ],
)
def test_dates_at_the_ends_of_time_are_422_not_500(api_as, editor, change, field):
    response = api_as(editor).post("/jobs", CRON_JOB | {"timezone": "America/New_York"} | change)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]


def test_job_starting_near_the_last_year_has_no_overflow(api_as, editor):
    body = CRON_JOB | {"timezone": "Pacific/Kiritimati", "startDate": "9998-12-31T00:00:00"}
    response = api_as(editor).post("/jobs", body)
    assert response.status_code == 201, response.json
    times = response.json["nextRunTimes"]
    assert times[0] == "9998-12-30T12:30:00Z"  # 02:30 on 31 Dec in UTC+14
    assert times == sorted(times) and len(times) == 5


def test_dates_and_owner_round_trip_through_update(api_as, admin, editor, make_job):
    job = make_job(editor)
    body = {
        "startDate": "2090-01-01T00:00:00Z",
        "endDate": "2091-01-01T00:00:00+02:00",
        "ownerId": str(admin.id),
    }
    response = api_as(admin).patch(f"/jobs/{job.id}", body)
    assert response.status_code == 200, response.json
    assert response.json["startDate"] == "2090-01-01T00:00:00Z"
    assert response.json["endDate"] == "2090-12-31T22:00:00Z"
    assert response.json["ownerId"] == str(admin.id)
    assert response.json["nextRunTime"] == "2090-01-01T00:00:00Z"


# 3.0 is a JSON Schema integer, so it is accepted as 3 (tests/test_openapi.py); 3.5 is not.
@pytest.mark.parametrize("value", [3.5, True, "3"])
def test_integers_are_strict(api_as, editor, value):
    response = api_as(editor).post("/jobs", CRON_JOB | {"retryCount": value})
    assert response.status_code == 422 and "retryCount" in response.json["error"]["fields"]
