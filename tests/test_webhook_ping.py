"""Webhook test pings: a synthetic event sent like any other and kept in the delivery log."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from werkzeug import Request, Response

from app import signing
from app.extensions import db
from app.models import Webhook, utcnow
from app.services.errors import Conflict, Forbidden
from app.services.events import deliveries

FAST = deliveries.DeliverySettings(timeout=2, max_attempts=3, retry_base=1, retry_max=60)


@pytest.fixture
def job(make_job, editor):
    return make_job(editor)


def webhook(job, url="https://hooks.example.com/almanac", **fields):
    row = Webhook(job_id=job.id, phase="failed", url=url, secret=signing.new_secret(), **fields)
    db.session.add(row)
    db.session.commit()
    return row


def test_ping_through_the_api_answers_202_with_the_delivery_in_the_log(api_as, editor, job):
    hook = webhook(job)
    response = api_as(editor).post(f"/webhooks/{hook.id}/ping")
    assert response.status_code == 202, response.json
    body = response.json
    assert body["phase"] == "ping" and body["status"] == "pending"
    assert body["executionId"] is None and body["eventId"].startswith("evt_")
    assert body["payload"]["webhook"] == {
        "id": str(hook.id),
        "phase": "failed",
        "jobId": str(job.id),
    }
    assert body["payload"]["job"] is None and body["payload"]["execution"] is None
    log = api_as(editor).get(f"/webhooks/{hook.id}/deliveries").json
    assert [row["id"] for row in log["deliveries"]] == [body["id"]]


def test_a_ping_is_sent_signed_like_any_event(httpserver, editor, job):
    seen = []

    def receiver(request: Request) -> Response:
        seen.append((request.headers.get("webhook-id"), json.loads(request.get_data())))
        return Response("pong")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    hook = webhook(job, url=httpserver.url_for("/hook"))
    row = deliveries.ping(db.session, editor.user, hook.id, utcnow())
    assert deliveries.dispatch_due(db.session, utcnow() + timedelta(seconds=1), 10) == [row.id]
    db.session.commit()
    assert deliveries.deliver(db.session, row.id, FAST, utcnow()) == "delivered"
    [(event_id, payload)] = seen
    assert event_id == row.event_id and payload["phase"] == "ping"


def test_ping_needs_the_right_to_change_the_webhook(api_as, editor, viewer, job):
    hook = webhook(job)
    with pytest.raises(Forbidden):
        deliveries.ping(db.session, viewer.user, hook.id, utcnow())
    assert api_as(viewer).post(f"/webhooks/{hook.id}/ping").status_code == 403


def test_a_turned_off_webhook_is_not_pinged(api_as, editor, job):
    hook = webhook(job, is_active=False)
    with pytest.raises(Conflict):
        deliveries.ping(db.session, editor.user, hook.id, utcnow())
    assert api_as(editor).post(f"/webhooks/{hook.id}/ping").status_code == 409
