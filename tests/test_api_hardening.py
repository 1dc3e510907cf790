"""Smaller holes of issue 11: content types, rate-limit answers, names, statuses, the catalogue."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
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
