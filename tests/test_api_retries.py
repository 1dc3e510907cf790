"""The retry queue API: list and filter, retry now, discard, bulk; who may do what."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select

from app.extensions import db
from app.models import Execution, RetryItem, utcnow
from app.services.ledger import runs
from app.services.ledger.recurrence import JsonJob, rq_job_id
from app.services.ledger.runs import ExecutionStatus, Outcome
from tests.conftest import TEST_REDIS_URL


@pytest.fixture
def redis(app):
    client = Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    app.extensions.pop("almanac_redis", None)
    yield client
    client.flushdb()


def failed_run(job, error="boom", **fields):
    """A run that failed just now: its retry item exists (pending, or dead without retries)."""
    now = utcnow()
    row = Execution(job=job, status="running", scheduled_for=now, started_at=now, **fields)
    db.session.add(row)
    db.session.commit()
    runs.finish(db.session, row.id, Outcome(ExecutionStatus.FAILED, error=error), now)
    db.session.expire_all()
    return db.session.scalar(select(RetryItem).where(RetryItem.execution_id == row.id))


@pytest.fixture
def retrying(make_job, editor):
    return make_job(editor, retry_count=2, retry_delay_seconds=3600)


def test_list_shows_pending_and_dead_items_soonest_first(api_as, editor, make_job, retrying):
    pending = failed_run(retrying, "connection refused")
    dead = failed_run(make_job(editor, name="no retries"), "disk full")
    body = api_as(editor).get("/retries").json
    assert body["total"] == 2
    assert [item["id"] for item in body["retries"]] == [str(dead.id), str(pending.id)]
    first = body["retries"][1]
    assert (
        first["status"] == "pending" and first["attempt"] == 2 and first["jobName"] == retrying.name
    )
    assert first["lastError"] == "connection refused" and first["nextTryAt"].endswith("Z")


@pytest.mark.parametrize(
    ("query", "expected"),
    [("status=dead", ["disk full"]), ("q=REFUSED", ["connection refused"]), ("status=done", [])],
)
def test_list_filters(api_as, editor, make_job, retrying, query, expected):
    failed_run(retrying, "connection refused")
    failed_run(make_job(editor, name="no retries"), "disk full")
    body = api_as(editor).get(f"/retries?{query}").json
    assert [item["lastError"] for item in body["retries"]] == expected


def test_list_filters_by_job_and_date(api_as, editor, make_job, retrying):
    item = failed_run(retrying)
    failed_run(make_job(editor, name="other"))
    api = api_as(editor)
    assert api.get(f"/retries?jobId={retrying.id}").json["total"] == 1
    since = (item.created_at + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert api.get(f"/retries?since={since}").json["total"] == 0
    assert api.get("/retries?status=nonsense").status_code == 422


def test_editors_see_only_their_own_jobs_items(api_as, editor, outsider, viewer, retrying):
    item = failed_run(retrying)
    assert api_as(outsider).get("/retries").json["total"] == 0
    assert api_as(outsider).get(f"/retries/{item.id}").status_code == 404
    assert api_as(viewer).get("/retries").json["total"] == 1
    assert api_as(viewer).post(f"/retries/{item.id}/trigger").status_code == 403
    assert api_as(viewer).delete(f"/retries/{item.id}").status_code == 403


def test_retry_now_ignores_the_backoff_and_queues_the_attempt(api_as, editor, retrying, redis):
    item = failed_run(retrying)
    response = api_as(editor).post(f"/retries/{item.id}/trigger")
    assert response.status_code == 202, response.json
    execution_id = uuid.UUID(response.json["executionId"])
    attempt = db.session.get(Execution, execution_id)
    assert (attempt.attempt, attempt.retry_of, attempt.status) == (2, item.execution_id, "queued")
    assert (attempt.triggered_by, attempt.triggered_by_user_id) == ("retry", editor.id)
    assert JsonJob.fetch(rq_job_id(execution_id), connection=redis).origin == "default"
    db.session.expire_all()
    done = db.session.get(RetryItem, item.id)
    assert done.status == "done" and done.retry_execution_id == execution_id
    again = api_as(editor).post(f"/retries/{item.id}/trigger")
    assert again.status_code == 409 and "done" in again.json["error"]["message"]


def test_a_dead_item_can_be_retried_by_hand(api_as, editor, make_job, redis):
    item = failed_run(make_job(editor))
    assert item.status == "dead"
    response = api_as(editor).post(f"/retries/{item.id}/trigger")
    assert response.status_code == 202


def test_discard_drops_the_item(api_as, editor, retrying):
    item = failed_run(retrying)
    assert api_as(editor).delete(f"/retries/{item.id}").status_code == 204
    db.session.expire_all()
    assert db.session.get(RetryItem, item.id).status == "discarded"
    assert api_as(editor).delete(f"/retries/{item.id}").status_code == 409
    assert api_as(editor).get("/retries").json["total"] == 0
    assert api_as(editor).get("/retries?status=discarded").json["total"] == 1


def test_unknown_items_are_404(api_as, editor):
    missing = uuid.uuid4()
    assert api_as(editor).post(f"/retries/{missing}/trigger").status_code == 404
    assert api_as(editor).delete(f"/retries/{missing}").status_code == 404


def test_bulk_retry_and_discard_by_filter(api_as, editor, make_job, retrying, redis):
    for n in range(3):
        failed_run(retrying, f"timeout {n}")
    failed_run(make_job(editor, name="other"), "disk full")
    api = api_as(editor)
    response = api.post("/retries/bulk", {"action": "trigger", "q": "timeout"})
    assert response.status_code == 200, response.json
    assert response.json["count"] == 3 and len(response.json["executionIds"]) == 3
    assert api.get("/retries?status=done").json["total"] == 3
    assert api.post("/retries/bulk", {"action": "discard"}).json["count"] == 1
    assert api.get("/retries").json["total"] == 0


def test_bulk_refuses_bad_input(api_as, editor):
    api = api_as(editor)
    assert api.post("/retries/bulk", {"action": "explode"}).status_code == 422
    assert api.post("/retries/bulk", {"action": "trigger", "status": "done"}).status_code == 422
    assert api.post("/retries/bulk", {"action": "discard", "extra": 1}).status_code == 422


def test_retries_of_a_deleted_job_cannot_be_triggered(api_as, editor, retrying):
    item = failed_run(retrying)
    assert api_as(editor).delete(f"/jobs/{retrying.id}").status_code == 204
    response = api_as(editor).post(f"/retries/{item.id}/trigger")
    assert response.status_code == 409 and "deleted" in response.json["error"]["message"]
