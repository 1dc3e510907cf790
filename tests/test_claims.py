"""The claim statement takes at most one batch, on both databases, and never a row twice."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import func, select

from app.extensions import db
from app.models import RetryItem, Webhook, WebhookDelivery, utcnow
from app.services.events import deliveries
from app.services.failures import retry_queue
from tests.conftest import add_due_retries


def many_jobs(make_job, editor, count):
    return [make_job(editor, name=f"job {n}", retry_count=1) for n in range(count)]


def claimed_count():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).where(RetryItem.status == "claimed"))


def test_one_claim_takes_exactly_one_batch(editor, make_job):
    now = utcnow()
    add_due_retries(many_jobs(make_job, editor, 100), now)
    ids = retry_queue.claim_due(db.session, "retry:1", now, 25)
    db.session.commit()
    assert len(ids) == len(set(ids)) == 25
    assert claimed_count() == 25


def test_concurrent_claimers_take_disjoint_batches(app, editor, make_job):
    now = utcnow()
    add_due_retries(many_jobs(make_job, editor, 100), now)
    batches: dict[str, list[list[uuid.UUID]]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claimer(name):
        with app.app_context():
            start.wait()
            while ids := retry_queue.claim_due(db.session, name, now, 25):
                db.session.commit()
                batches[name].append(ids)
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=claimer, args=(name,)) for name in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    every = [batch for name in batches for batch in batches[name]]
    assert all(len(batch) <= 25 for batch in every), [len(b) for b in every]
    taken = [ident for batch in every for ident in batch]
    assert len(taken) == len(set(taken)) == 100


def test_webhook_dispatch_takes_exactly_one_batch(editor, make_job):
    job = make_job(editor)
    hook = Webhook(job_id=job.id, phase="failed", url="http://127.0.0.1/x", secret="s" * 32)
    db.session.add(hook)
    db.session.flush()
    now = utcnow()
    db.session.add_all(
        WebhookDelivery(
            webhook_id=hook.id, event_id=f"e{n}", phase="failed", payload={}, next_try_at=now
        )
        for n in range(120)
    )
    db.session.commit()
    assert len(set(deliveries.dispatch_due(db.session, now, 25))) == 25
    db.session.commit()
    queued = select(func.count()).where(WebhookDelivery.status == "queued")
    assert db.session.scalar(queued) == 25
