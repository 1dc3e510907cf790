"""Schedule preview, lookups, status, cleanup and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

import pytest
from openapi_spec_validator import validate
from redis import Redis

from app.extensions import db
from app.models import Execution, LeaderLease, SchedulerInstance, utcnow
from tests.conftest import TEST_REDIS_URL


def test_preview_cron_in_zone_gives_utc_and_local(api_as, viewer):
    body = {
        "jobType": "cron",
        "scheduleConfig": {"expression": "30 2 * * *"},
        "timezone": "America/New_York",
        "startDate": "2099-03-07T12:00:00",
        "count": 2,
    }
    response = api_as(viewer).post("/schedule-preview", body)
    assert response.status_code == 200, response.json
    times = response.json["fireTimes"]
    assert len(times) == 2
    assert times[0]["utc"].endswith("Z")
    assert times[0]["local"].startswith("2099-03-08T")


def test_preview_start_date_is_inclusive_for_intervals(api_as, viewer):
    body = {
        "jobType": "interval",
        "scheduleConfig": {"minutes": 90},
        "startDate": "2099-01-01T00:00:00Z",
        "count": 3,
    }
    times = [t["utc"] for t in api_as(viewer).post("/schedule-preview", body).json["fireTimes"]]
    assert times == ["2099-01-01T00:00:00Z", "2099-01-01T01:30:00Z", "2099-01-01T03:00:00Z"]


def test_preview_end_date_cuts_results(api_as, viewer):
    body = {
        "jobType": "cron",
        "scheduleConfig": {"expression": "0 12 * * *"},
        "startDate": "2099-01-01T00:00:00Z",
        "endDate": "2099-01-03T00:00:00Z",
        "count": 10,
    }
    assert len(api_as(viewer).post("/schedule-preview", body).json["fireTimes"]) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"jobType": "cron", "scheduleConfig": {"expression": "* *"}}, "scheduleConfig.expression"),
        ({"jobType": "interval", "scheduleConfig": {}}, "scheduleConfig"),
        (
            {
                "jobType": "cron",
                "scheduleConfig": {"expression": "* * * * *"},
                "timezone": "Nope/Nope",
            },
            "timezone",
        ),
        ({"jobType": "interval", "scheduleConfig": {"seconds": 5}, "count": 1000}, "count"),
        ({"jobType": "hourly", "scheduleConfig": {}}, "jobType"),
    ],
)
def test_preview_rejects_bad_input_naming_field(api_as, viewer, body, field):
    response = api_as(viewer).post("/schedule-preview", body)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def test_lookups(api_as, viewer):
    api = api_as(viewer)
    tasks = api.get("/task-functions").json
    names = {t["name"] for t in tasks["taskFunctions"]}
    assert {"noop", "sleep", "flaky", "http_request", "cleanup_history"} <= names
    http = next(t for t in tasks["taskFunctions"] if t["name"] == "http_request")
    assert http["argsSchema"]["required"] == ["url"]
    assert next(t for t in tasks["taskFunctions"] if t["name"] == "cleanup_history")["isSystem"]
    assert [t["name"] for t in api.get("/job-types").json["jobTypes"]] == [
        "interval",
        "cron",
        "date",
    ]
    statuses = {s["name"]: s["isTerminal"] for s in api.get("/execution-statuses").json["statuses"]}
    assert statuses["running"] is False and statuses["missed"] is True
    assert len(statuses) == 9


def test_status_reports_counts_queues_and_leader(api_as, admin, make_job, make_execution):
    Redis.from_url(TEST_REDIS_URL).flushdb()
    first = make_job(admin, name="soon", schedule_config={"seconds": 30})
    make_job(admin, name="later", schedule_config={"hours": 5})
    paused = make_job(admin, name="paused")
    api_as(admin).post(f"/jobs/{paused.id}/action", {"action": "pause"})
    make_execution(first, status="running")
    now = utcnow()
    instance = SchedulerInstance(hostname="h", pid=1, role="scheduler", version="t", is_leader=True)
    db.session.add(instance)
    db.session.flush()
    db.session.add(
        LeaderLease(
            name="scheduler", holder_id=instance.id, token=1, expires_at=now + timedelta(seconds=30)
        )
    )
    db.session.commit()
    status = api_as(admin).get("/status").json
    assert status["totalJobs"] == 3 and status["pausedJobs"] == 1
    assert status["runningJobs"] == 1
    assert status["executionCounts"]["running"] == 1
    assert status["nextScheduledJob"]["name"] == "soon"
    assert status["leaderInstance"]["id"] == str(instance.id)
    assert status["isRunning"] is True
    assert status["queues"] == {"default": 0, "webhooks": 0}
    assert status["redis"] == {"ok": True}
    assert status["retryCounts"] == dict.fromkeys(
        ["pending", "claimed", "done", "dead", "discarded"], 0
    )
    assert set(status["deliveryCounts"]) == {"pending", "queued", "sending", "delivered", "dead"}


def test_status_reports_redis_down_without_failing(app, api_as, admin, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    app.extensions.pop("almanac_redis", None)
    try:
        status = api_as(admin).get("/status")
    finally:
        app.extensions.pop("almanac_redis", None)
    assert status.status_code == 200
    assert status.json["redis"]["ok"] is False
    assert status.json["isRunning"] is False and status.json["leaderInstance"] is None


def test_cleanup_is_admin_only_and_deletes_old_finished_runs(
    api_as, admin, editor, make_job, make_execution
):
    job = make_job(admin)
    old = utcnow() - timedelta(days=40)
    make_execution(job, status="success", created_at=old)
    make_execution(job, status="running", created_at=old)
    make_execution(job, status="failed")
    assert api_as(editor).post("/cleanup", {"olderThanDays": 30}).status_code == 403
    response = api_as(admin).post("/cleanup", {"olderThanDays": 30})
    assert response.json == {"deleted": 1}
    assert db.session.query(Execution).count() == 2


def test_openapi_document_is_valid_and_lists_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<uuid:{arg}>", "{" + arg + "}")
            routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed
