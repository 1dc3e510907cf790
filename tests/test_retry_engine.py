"""Retries and webhooks for real: worker, retry and scheduler processes, a real receiver."""

from __future__ import annotations

import itertools
import os
import re
import signal
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug import Request, Response

from app.extensions import db
from app.models import (
    RetryItem,
    ScheduledJob,
    SchedulerInstance,
    Webhook,
    WebhookDelivery,
    utcnow,
)
from tests.conftest import add_due_retries
from tests.engine import wait_for
from tests.test_engine import _work_horse, create, rows
from tests.test_webhook_delivery import documented_verifier

pytestmark = pytest.mark.slow
ALWAYS_FAILS = {
    "taskFunction": "flaky",
    "taskArgs": {"failure_rate": 1},
    "scheduleConfig": {"hours": 1},
}


def items(job_id, **filters):
    query = select(RetryItem).where(RetryItem.job_id == job_id).order_by(RetryItem.created_at)
    for key, value in filters.items():
        query = query.where(getattr(RetryItem, key) == value)
    return db.session.scalars(query).all()


def run_now(api, job_id):
    response = api.post(f"/jobs/{job_id}/action", {"action": "trigger"})
    assert response.status_code == 202, response.json


def chain(job_id):
    return sorted(rows(job_id), key=lambda r: r.attempt)


def test_each_backoff_gives_the_exact_attempts_and_spacing(engine, api_as, editor):
    engine.worker()
    engine.retry()
    api = api_as(editor)
    expected = {"fixed": [1, 1, 1], "linear": [1, 2, 3], "exponential": [1, 2, 4]}
    ids = {
        policy: create(
            api,
            name=policy,
            retryCount=3,
            retryDelaySeconds=1,
            retryBackoff=policy,
            **ALWAYS_FAILS,
        )
        for policy in expected
    }
    for job_id in ids.values():
        run_now(api, job_id)
    wait_for(lambda: all(items(i, status="dead") for i in ids.values()), 40, engine.logs)
    for policy, job_id in ids.items():
        runs_ = chain(job_id)
        assert [r.attempt for r in runs_] == [1, 2, 3, 4], policy
        assert all(r.status == "failed" for r in runs_)
        assert [r.triggered_by for r in runs_] == ["api", "retry", "retry", "retry"]
        assert [r.retry_of for r in runs_[1:]] == [r.id for r in runs_[:-1]]
        pending = items(job_id, status="done")
        # The backoff is exact where it is decided: next_try_at = failure + delay.
        planned = [(i.next_try_at - i.execution.completed_at).total_seconds() for i in pending]
        assert planned == pytest.approx(expected[policy], abs=0.001), policy
        # And kept in practice: each attempt starts its delay after the last one failed.
        gaps = [
            (b.started_at - a.completed_at).total_seconds() for a, b in itertools.pairwise(runs_)
        ]
        for gap, delay in zip(gaps, expected[policy], strict=True):
            assert delay <= gap < delay + 1.5, (policy, gaps)
        [dead] = items(job_id, status="dead")
        assert dead.execution_id == runs_[-1].id and dead.attempt == 5


def test_job_fails_after_its_streak_stops_firing_and_resumes(engine, api_as, editor):
    engine.scheduler()
    engine.worker()
    engine.retry()
    api = api_as(editor)
    job_id = create(
        api,
        **(ALWAYS_FAILS | {"scheduleConfig": {"seconds": 1}}),
        retryCount=1,
        retryDelaySeconds=1,
        maxConsecutiveFailures=3,
    )

    def job():
        return db.session.get(ScheduledJob, job_id)

    wait_for(lambda: job().status == "failed", 20, engine.logs)
    stopped_at = utcnow()
    assert items(job_id, status="dead"), "the job fails on a final failure (a dead item)"
    assert job().consecutive_failures >= 3 and job().next_run_time is None
    wait_for(lambda: not rows(job_id, status="queued") and not rows(job_id, status="running"), 10)

    def ran():
        return [r.id for r in rows(job_id) if r.started_at is not None]

    settled = ran()
    wait_for(lambda: utcnow() > stopped_at + timedelta(seconds=3), 5)
    assert ran() == settled, "a failed job neither fires nor retries"
    assert not rows(job_id, status="pending")  # its armed slot is gone too
    assert api.get(f"/jobs/{job_id}").json["status"] == "failed"
    resumed = api.post(f"/jobs/{job_id}/action", {"action": "resume"})
    assert resumed.status_code == 200 and resumed.json["job"]["status"] == "active"
    resumed_at = utcnow()
    wait_for(
        lambda: any(r.started_at and r.started_at > resumed_at for r in rows(job_id)),
        15,
        engine.logs,
    )
    api.post(f"/jobs/{job_id}/action", {"action": "pause"})


def test_two_retry_processes_never_claim_the_same_item(engine, make_job, editor):
    # A job's retries are launched one at a time (no worker runs here): one failure per job.
    count = 200
    jobs = [
        make_job(editor, name=f"job {n}", retry_count=1, schedule_config={"hours": 1})
        for n in range(count)
    ]
    for _ in range(2):
        engine.retry(RETRY_BATCH_SIZE="10")
    wait_for(
        lambda: (
            db.session.scalar(
                select(func.count()).where(
                    SchedulerInstance.role == "retry", SchedulerInstance.stopped_at.is_(None)
                )
            )
            == 2
        ),
        20,
        engine.logs,
    )
    add_due_retries(jobs, utcnow())
    done = lambda: db.session.scalars(select(RetryItem).where(RetryItem.status == "done")).all()  # noqa: E731
    wait_for(lambda: len(done()) == count, 60, engine.logs)
    retries = rows(triggered_by="retry")
    assert len(retries) == count
    assert len({r.retry_of for r in retries}) == count  # one attempt per failure
    claimers = {i.claimed_by for i in done()}
    assert len(claimers) == 2, claimers  # both processes took part
    engine.stop_all()
    stats = re.findall(r"stopped on SIGTERM: (.*)", engine.logs())
    claimed = [int(m) for line in stats for m in re.findall(r"claimed (\d+)", line)]
    assert sum(claimed) == count and all("conflicts" not in line for line in stats), stats


def test_webhooks_signed_retried_on_5xx_and_turned_off_by_410(
    engine, api_as, admin, editor, httpserver
):
    verify = documented_verifier()
    seen: dict[str, list[Request]] = {"flaky": [], "gone": [], "dead": []}
    answers = iter([503, 200])

    def receiver(name):
        def handle(request: Request) -> Response:
            seen[name].append(request)
            hook = db_hooks[name]
            if not verify(hook["secret"], request.headers, request.get_data()):
                return Response("bad signature", status=401)
            status = {"flaky": lambda: next(answers), "gone": lambda: 410, "dead": lambda: 200}[
                name
            ]()
            return Response("ok", status=status)

        return handle

    httpserver.expect_request("/target").respond_with_data("down", status=503)
    for name in seen:
        httpserver.expect_request(f"/{name}").respond_with_handler(receiver(name))
    engine.worker()
    engine.retry()
    api = api_as(editor)
    job_id = create(
        api,
        taskFunction="http_request",
        taskArgs={"url": httpserver.url_for("/target")},
        scheduleConfig={"hours": 1},
    )
    hooks = [
        ("flaky", {"phase": "failed", "statusCode": "5xx", "jobId": str(job_id)}),
        ("gone", {"phase": "failed", "jobId": str(job_id)}),
        ("dead", {"phase": "dead"}),  # global: every job
    ]
    db_hooks = {}
    for name, body in hooks:
        response = api_as(admin).post("/webhooks", {"url": httpserver.url_for(f"/{name}")} | body)
        assert response.status_code == 201, response.json
        db_hooks[name] = response.json
    run_now(api, job_id)

    def settled():
        states = db.session.scalars(select(WebhookDelivery.status)).all()
        return len(states) == 3 and all(s in ("delivered", "dead") for s in states)

    wait_for(settled, 30, engine.logs)
    [run] = rows(job_id)
    assert (run.status, run.http_status) == ("failed", 503)  # webhook trouble never changes it
    by_hook = {
        name: db.session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.webhook_id == uuid.UUID(h["id"]))
        )
        for name, h in db_hooks.items()
    }
    flaky = by_hook["flaky"]
    assert (flaky.status, flaky.attempts) == ("delivered", 2)
    assert [r.headers["webhook-id"] for r in seen["flaky"]] == [flaky.event_id] * 2
    assert by_hook["gone"].status == "dead" and "410" in by_hook["gone"].error
    assert db.session.get(Webhook, uuid.UUID(db_hooks["gone"]["id"])).is_active is False
    assert by_hook["dead"].status == "delivered" and by_hook["dead"].payload["phase"] == "dead"
    assert by_hook["dead"].payload["execution"]["httpStatus"] == 503
    assert by_hook["flaky"].event_id == by_hook["gone"].event_id != by_hook["dead"].event_id


def test_a_poison_pill_goes_dead_after_its_worker_died_n_times(engine, api_as, editor):
    engine.worker(WORKER_CONCURRENCY="1", RETRY_MAX_ABANDONED="2")
    engine.retry()
    api = api_as(editor)
    job_id = create(
        api,
        taskFunction="sleep",
        taskArgs={"seconds": 30},
        scheduleConfig={"hours": 1},
        retryCount=5,
        retryDelaySeconds=0,
    )
    run_now(api, job_id)
    for attempt in (1, 2):
        running = wait_for(
            lambda a=attempt: rows(job_id, status="running", attempt=a), 20, engine.logs
        )[0]
        os.kill(_work_horse(running), signal.SIGKILL)
    [dead] = wait_for(lambda: items(job_id, status="dead"), 20, engine.logs)
    assert dead.abandoned == 2 and "its worker died on 2 attempts" in dead.last_error
    assert [r.attempt for r in chain(job_id)] == [1, 2]
    assert all(r.error_message.startswith("worker lost") for r in chain(job_id))
