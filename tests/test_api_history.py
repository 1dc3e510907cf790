"""Execution history endpoints, health probes and error pages."""

from __future__ import annotations

from datetime import timedelta

from app.models import utcnow


def test_history_lists_newest_first_with_filters(api_as, editor, make_job, make_execution):
    job = make_job(editor)
    now = utcnow()
    make_execution(job, status="success", created_at=now - timedelta(minutes=3))
    make_execution(
        job, status="failed", created_at=now - timedelta(minutes=2), error_message="boom"
    )
    make_execution(
        job, status="success", triggered_by="manual", created_at=now - timedelta(minutes=1)
    )
    api = api_as(editor)
    page = api.get(f"/jobs/{job.id}/history").json
    assert page["total"] == 3
    assert [e["status"] for e in page["executions"]] == ["success", "failed", "success"]
    assert page["executions"][0]["triggeredBy"] == "manual"
    assert page["executions"][0]["jobName"] == job.name
    assert api.get("/history?status=failed").json["executions"][0]["errorMessage"] == "boom"
    assert api.get("/history?triggeredBy=manual").json["total"] == 1
    since = (now - timedelta(seconds=150)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.get(f"/history?since={since}").json["total"] == 2
    assert api.get("/history?perPage=1&page=3").json["executions"][0]["status"] == "success"


def test_history_is_empty_until_something_runs(api_as, editor, make_job):
    job = make_job(editor)
    assert api_as(editor).get(f"/jobs/{job.id}/history").json == {
        "executions": [],
        "total": 0,
        "page": 1,
        "perPage": 20,
    }


def test_history_respects_ownership(api_as, editor, outsider, viewer, make_job, make_execution):
    execution = make_execution(make_job(editor))
    assert api_as(outsider).get("/history").json["total"] == 0
    assert api_as(outsider).get(f"/executions/{execution.id}").status_code == 404
    assert api_as(viewer).get("/history").json["total"] == 1


def test_execution_detail_has_log_and_traceback(api_as, editor, make_job, make_execution):
    execution = make_execution(
        make_job(editor),
        status="failed",
        log_output="line 1\nline 2",
        error_traceback="Traceback ...",
        result={"ok": False},
    )
    detail = api_as(editor).get(f"/executions/{execution.id}").json
    assert detail["logOutput"] == "line 1\nline 2"
    assert detail["errorTraceback"] == "Traceback ..."
    assert detail["result"] == {"ok": False}


def test_history_of_deleted_job_stays_readable(api_as, editor, make_job, make_execution):
    job = make_job(editor)
    execution = make_execution(job)
    api_as(editor).delete(f"/jobs/{job.id}")
    assert api_as(editor).get(f"/executions/{execution.id}").status_code == 200


def test_bad_history_query_is_422(api_as, editor):
    response = api_as(editor).get("/history?status=exploded&since=yesterday")
    assert response.status_code == 422
    assert {"status", "since"} <= set(response.json["error"]["fields"])


def test_health_probes(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_when_redis_is_down(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    app.extensions.pop("almanac_redis", None)
    try:
        response = client.get("/readyz")
    finally:
        app.extensions.pop("almanac_redis", None)
    assert response.status_code == 503
    assert response.json["checks"]["redis"].startswith("error")


def test_unknown_page_is_html_404_and_unknown_api_path_is_json(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and b"<html" in page.data
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"


def test_unexpected_error_shows_no_traceback(app, client, monkeypatch):
    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("app.health.views._check_database", explode)
    response = client.get("/readyz")
    assert response.status_code == 500
    assert b"secret internals" not in response.data and b"Traceback" not in response.data


def test_oversized_body_is_413_json(api_as, editor):
    response = api_as(editor).post(
        "/jobs", data=b"x" * (3 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
