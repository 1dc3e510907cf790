"""Webhook events and their delivery, in-process against a real local HTTP receiver."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug import Request, Response

from app import signing
from app.extensions import db
from app.models import Execution, Webhook, WebhookDelivery, WebhookPhase, utcnow
from app.services.events import deliveries, webhooks
from app.services.ledger import runs
from app.services.ledger.runs import ExecutionStatus, Outcome

DOC = Path(__file__).resolve().parent.parent / "docs" / "WEBHOOKS.md"
FAST = deliveries.DeliverySettings(timeout=2, max_attempts=3, retry_base=1, retry_max=60)


def documented_verifier():
    """The receiver code from docs/WEBHOOKS.md, run as a reader would copy it."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    [code] = [block for block in blocks if "def verify_almanac_webhook" in block]
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace["verify_almanac_webhook"]


def hook(job=None, phase="succeeded", url="http://127.0.0.1:1/", **fields):
    row = Webhook(
        job_id=job.id if job else None,
        phase=phase,
        url=url,
        **({"secret": signing.new_secret()} | fields),
    )
    db.session.add(row)
    db.session.commit()
    return row


def finished(job, status="success", http_status=None):
    now = utcnow()
    row = Execution(job=job, status="running", scheduled_for=now, started_at=now, worker_name="w:1")
    db.session.add(row)
    db.session.commit()
    runs.finish(
        db.session,
        row.id,
        Outcome(
            ExecutionStatus(status),
            error=None if status == "success" else "x",
            http_status=http_status,
        ),
        now,
    )
    return row


def deliveries_of(webhook):
    db.session.expire_all()
    return db.session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id)
        .order_by(WebhookDelivery.created_at)
    ).all()


def send_now(delivery):
    """What the retry process and a worker do: queue it, then one attempt."""
    assert deliveries.dispatch_due(db.session, utcnow() + timedelta(hours=1), 10)
    db.session.commit()
    return deliveries.deliver(db.session, delivery.id, FAST, utcnow())


def test_the_signature_matches_the_standard_webhooks_reference_vector():
    # From the Standard Webhooks specification's test suite.
    signature = signing.standard_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_documented_verifier_accepts_ours_and_refuses_tampering():
    verify = documented_verifier()
    secret, now, body = signing.new_secret(), int(time.time()), b'{"a":1}'
    headers = signing.signed_headers(secret, "evt_1", now, body)
    assert verify(secret, headers, body)
    assert not verify(secret, headers, b'{"a":2}')
    assert not verify(signing.new_secret(), headers, body)
    assert not verify(secret, signing.signed_headers(secret, "evt_1", now - 3600, body), body)
    plain = "a plain shared secret"
    assert verify(plain, signing.signed_headers(plain, "evt_2", now, body), body)


def test_events_go_to_matching_webhooks_only(editor, make_job):
    job, other = make_job(editor), make_job(editor, name="other")
    mine, everyone = hook(job), hook(None)
    wrong_phase, elsewhere = hook(job, phase="failed"), hook(other)
    off = hook(job, is_active=False)
    row = finished(job)
    for webhook, count in ((mine, 1), (everyone, 1), (wrong_phase, 0), (elsewhere, 0), (off, 0)):
        assert len(deliveries_of(webhook)) == count, webhook.phase
    [a], [b] = deliveries_of(mine), deliveries_of(everyone)
    assert a.event_id == b.event_id and a.event_id.startswith("evt_")
    payload = a.payload
    assert payload["phase"] == "succeeded" and payload["job"]["name"] == job.name
    assert payload["execution"]["id"] == str(row.id) and payload["execution"]["status"] == "success"
    assert payload["execution"]["attempt"] == 1 and payload["retry"] is None


def test_a_claim_emits_started_to_matching_webhooks_only(editor, make_job):
    # The claim asks whether anyone listens inside its own UPDATE; it must still ask right.
    job, other = make_job(editor), make_job(editor, name="other")
    mine, everyone, elsewhere = hook(job, "started"), hook(None, "started"), hook(other, "started")
    off, ended = hook(job, "started", is_active=False), hook(job)
    now = utcnow()
    row = Execution(job=job, status="queued", scheduled_for=now, triggered_by="api")
    db.session.add(row)
    db.session.commit()
    assert runs.claim(db.session, row.id, "w:1", None, now) is not None
    for webhook, count in ((mine, 1), (everyone, 1), (elsewhere, 0), (off, 0), (ended, 0)):
        assert len(deliveries_of(webhook)) == count, (webhook.job_id, webhook.phase)
    [event] = deliveries_of(mine)
    assert event.payload["phase"] == "started" and event.payload["execution"]["status"] == "running"
    quiet = Execution(job=other, status="queued", scheduled_for=now, triggered_by="api")
    db.session.add(quiet)
    db.session.commit()
    before = len(deliveries_of(everyone))
    assert runs.claim(db.session, quiet.id, "w:1", None, now) is not None
    assert len(deliveries_of(everyone)) == before + 1 and len(deliveries_of(mine)) == 1


@pytest.mark.parametrize(
    ("pattern", "status", "sent"),
    [
        ("503", 503, True),
        ("503", 502, False),
        ("5xx", 502, True),
        ("5xx", 404, False),
        ("4xx", None, False),
    ],
)
def test_a_status_match_filters_http_outcomes(editor, make_job, pattern, status, sent):
    job = make_job(editor)
    webhook = hook(job, phase="failed", status_code=pattern)
    finished(job, "failed", http_status=status)
    assert len(deliveries_of(webhook)) == (1 if sent else 0)


def test_retrying_and_dead_events_carry_the_retry(editor, make_job):
    job = make_job(editor, retry_count=1, retry_delay_seconds=30)
    retrying, dead = hook(job, phase="retrying"), hook(job, phase="dead")
    finished(job, "failed")
    [event] = deliveries_of(retrying)
    assert (
        event.payload["retry"]["status"] == "pending" and event.payload["retry"]["nextAttempt"] == 2
    )
    assert event.payload["retry"]["nextTryAt"].endswith("Z")
    assert deliveries_of(dead) == []


def test_a_delivery_is_signed_and_verified_by_the_documented_code(httpserver, editor, make_job):
    verify, received = documented_verifier(), []

    def receiver(request: Request) -> Response:
        received.append((dict(request.headers), request.get_data()))
        ok = verify(webhook.secret, request.headers, request.get_data())
        return Response("thanks", status=200 if ok else 401)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    job = make_job(editor)
    webhook = hook(job, url=httpserver.url_for("/hook"))
    finished(job)
    [delivery] = deliveries_of(webhook)
    assert send_now(delivery) == "delivered"
    [(headers, body)] = received
    assert json.loads(body) == delivery.payload and headers["Webhook-Id"] == delivery.event_id
    db.session.expire_all()
    row = db.session.get(WebhookDelivery, delivery.id)
    assert (row.response_status, row.response_excerpt, row.attempts) == (200, "thanks", 1)
    assert row.request_headers["webhook-id"] == delivery.event_id and row.duration_ms > 0
    assert row.attempt_log[0]["responseStatus"] == 200


def test_a_5xx_is_retried_with_the_same_event_id_then_delivered(httpserver, editor, make_job):
    answers = iter([Response("busy", status=503), Response("ok")])
    seen_ids = []

    def receiver(request: Request) -> Response:
        seen_ids.append(request.headers["webhook-id"])
        return next(answers)

    httpserver.expect_request("/hook").respond_with_handler(receiver)
    job = make_job(editor)
    webhook = hook(job, url=httpserver.url_for("/hook"))
    finished(job)
    [delivery] = deliveries_of(webhook)
    before = utcnow()
    assert send_now(delivery) == "pending"
    db.session.expire_all()
    row = db.session.get(WebhookDelivery, delivery.id)
    assert row.error == "HTTP 503" and row.response_excerpt == "busy"
    assert 1 <= (row.next_try_at - before).total_seconds() <= 3  # base 1 s
    assert send_now(row) == "delivered"
    assert seen_ids == [delivery.event_id] * 2
    assert [entry["responseStatus"] for entry in deliveries_of(webhook)[0].attempt_log] == [
        503,
        200,
    ]


def test_out_of_attempts_the_delivery_is_dead(httpserver, editor, make_job):
    httpserver.expect_request("/hook").respond_with_data("no", status=500)
    job = make_job(editor)
    webhook = hook(job, url=httpserver.url_for("/hook"))
    finished(job)
    [delivery] = deliveries_of(webhook)
    assert [send_now(delivery) for _ in range(3)] == ["pending", "pending", "dead"]
    assert "gave up after 3 attempt(s)" in deliveries_of(webhook)[0].error


def test_410_gone_turns_the_webhook_off(httpserver, editor, make_job):
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    job = make_job(editor)
    webhook = hook(job, url=httpserver.url_for("/hook"))
    finished(job)
    assert send_now(deliveries_of(webhook)[0]) == "dead"
    db.session.expire_all()
    assert db.session.get(Webhook, webhook.id).is_active is False
    finished(job)
    assert len(deliveries_of(webhook)) == 1  # no new event for a webhook that is off


def test_a_slow_receiver_is_cut_off_at_the_timeout(httpserver, editor, make_job):
    release = threading.Event()

    def slow(_request: Request) -> Response:
        release.wait(5)
        return Response("late")

    httpserver.expect_request("/hook").respond_with_handler(slow)
    job = make_job(editor)
    webhook = hook(job, url=httpserver.url_for("/hook"))
    finished(job)
    started = time.monotonic()
    assert send_now(deliveries_of(webhook)[0]) == "pending"
    assert time.monotonic() - started < 2.9  # the 2 s timeout, not the receiver's 5 s
    assert "Timeout" in deliveries_of(webhook)[0].error
    release.set()  # let the receiver finish before the next test shares the server
    while not httpserver.log:
        time.sleep(0.05)


def test_a_refused_destination_is_dead_at_once(editor, make_job):
    job = make_job(editor)
    webhook = hook(job, url="http://169.254.169.254/latest/meta-data/")
    finished(job)
    assert send_now(deliveries_of(webhook)[0]) == "dead"
    assert deliveries_of(webhook)[0].error.startswith("refused:")


def test_a_delivery_is_sent_once_even_if_queued_twice(httpserver, editor, make_job):
    httpserver.expect_request("/hook").respond_with_data("ok")
    job = make_job(editor)
    webhook = hook(job, url=httpserver.url_for("/hook"))
    finished(job)
    [delivery] = deliveries_of(webhook)
    assert send_now(delivery) == "delivered"
    assert deliveries.deliver(db.session, delivery.id, FAST, utcnow()) is None
    assert len(httpserver.log) == 1


def test_stuck_deliveries_are_revived(editor, make_job):
    job = make_job(editor)
    webhook = hook(job)
    finished(job)
    [delivery] = deliveries_of(webhook)
    assert deliveries.dispatch_due(db.session, utcnow(), 10) == [delivery.id]
    db.session.commit()
    assert deliveries.sweep_lost(db.session, utcnow(), FAST) == 0
    assert deliveries.sweep_lost(db.session, utcnow() + timedelta(minutes=2), FAST) == 1
    db.session.commit()
    assert deliveries_of(webhook)[0].status == "pending"


def test_the_missed_event_summarises_a_catch_up(editor, make_job):
    from app.services.ledger import firing

    slot = utcnow() - timedelta(minutes=5)
    job = make_job(editor, now=slot, schedule_config={"seconds": 10}, misfire_policy="skip")
    webhook = hook(job, phase="missed")
    row = Execution(job=job, status="pending", scheduled_for=slot, triggered_by="scheduler")
    db.session.add(row)
    db.session.commit()
    firing.fire(db.session, [firing.Due(row)], utcnow(), None, firing.Plan())
    db.session.commit()
    [event] = deliveries_of(webhook)
    assert event.payload["missed"]["count"] >= 30
    assert event.payload["execution"]["status"] == "missed"


def test_emit_without_webhooks_writes_nothing(editor, make_job):
    job = make_job(editor)
    row = finished(job)
    assert webhooks.emit(db.session, WebhookPhase.SUCCEEDED, row, utcnow()) == 0
    assert db.session.scalar(select(WebhookDelivery.id)) is None


def test_unknown_delivery_is_not_found(admin):
    with pytest.raises(Exception, match="No such delivery"):
        deliveries.get_delivery(db.session, admin.user, uuid.uuid4())
