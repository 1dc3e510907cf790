"""Process faults: the leader killed or frozen, Redis flushed or unreachable, a worker stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import SchedulerInstance, utcnow
from tests.engine import wait_for
from tests.faults.conftest import faults_only
from tests.faults.ledger import load, settle, succeeded
from tests.test_engine import create, rows


def _leader(engine):
    """The scheduler process that holds the lease."""
    leading = db.session.scalars(
        select(SchedulerInstance.pid).where(
            SchedulerInstance.role == "scheduler",
            SchedulerInstance.is_leader.is_(True),
            SchedulerInstance.stopped_at.is_(None),
        )
    ).all()
    return next((p for p in engine.processes if p.pid in leading and p.poll() is None), None)


def _two_schedulers_under_load(engine, api, httpserver):
    ids = load(api, httpserver)
    engine.scheduler()
    wait_for(lambda: _leader(engine), 20, engine.logs)
    engine.scheduler()
    engine.worker()
    wait_for(lambda: len(succeeded()) >= 2 * len(ids), 30, engine.logs)
    return ids


@faults_only
@pytest.mark.slow
def test_leader_killed(engine, api_as, editor, httpserver, record):
    api = api_as(editor)
    ids = _two_schedulers_under_load(engine, api, httpserver)
    leader = _leader(engine)
    os.kill(leader.pid, signal.SIGKILL)
    killed_at = utcnow()
    figures = settle(engine, api, ids, httpserver, killed_at)
    record("leader kill -9 (2 schedulers)", **figures)
    assert (figures["duplicates"], figures["lost"], figures["stuck"]) == (0, 0, 0), figures


@faults_only
@pytest.mark.slow
def test_leader_frozen_past_its_lease(engine, api_as, editor, httpserver, record):
    api = api_as(editor)
    ids = _two_schedulers_under_load(engine, api, httpserver)
    leader = _leader(engine)
    os.kill(leader.pid, signal.SIGSTOP)
    frozen_at = utcnow()
    time.sleep(6)  # three leases (LEASE_SECONDS=2 in the tests)
    os.kill(leader.pid, signal.SIGCONT)
    figures = settle(engine, api, ids, httpserver, frozen_at)
    record("leader SIGSTOP 6 s, SIGCONT (2 schedulers)", **figures)
    assert (figures["duplicates"], figures["lost"], figures["stuck"]) == (0, 0, 0), figures


@faults_only
@pytest.mark.slow
def test_redis_flushed(engine, api_as, editor, httpserver, record):
    api = api_as(editor)
    ids = load(api, httpserver)
    engine.scheduler()
    engine.worker()
    wait_for(lambda: len(succeeded()) >= 2 * len(ids), 30, engine.logs)
    engine.redis.flushdb()  # the test's own Redis DB, never the server
    figures = settle(engine, api, ids, httpserver, utcnow())
    record("Redis FLUSHDB", **figures)
    assert (figures["duplicates"], figures["stuck"]) == (0, 0), figures
    # The slots armed in the flushed Redis are found by reconcile: run late or missed, not lost.
    assert figures["lost"] == 0, figures


def test_workers_wait_for_an_unreachable_redis_without_a_respawn_storm(
    engine, api_as, editor, record
):
    worker = engine.worker(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    log = engine.tmp / "worker.py.0.log"
    wait_for(lambda: log.read_text().count("Redis unreachable") >= 2, 20, engine.logs)
    time.sleep(4)
    text = log.read_text()
    restarts = text.count("starting another")
    record("Redis unreachable at worker start", recovery=None, restarts=restarts)
    assert restarts == 0, text[-3000:]
    assert "trying again in 4.0s" in text or "trying again in 2.0s" in text  # backing off
    assert engine.stop(worker) == 0


def test_sigterm_lets_the_running_task_finish(engine, api_as, editor, record):
    engine.scheduler()
    worker = engine.worker(WORKER_CONCURRENCY="1")
    api = api_as(editor)
    job_id = create(api, taskFunction="sleep", taskArgs={"seconds": 2}, scheduleConfig={"hours": 1})
    assert api.post(f"/jobs/{job_id}/action", {"action": "trigger"}).status_code == 202
    wait_for(lambda: rows(job_id, status="running"), 20, engine.logs)
    stopped_at = time.monotonic()
    assert engine.stop(worker, timeout=20) == 0
    waited = round(time.monotonic() - stopped_at, 1)
    db.session.rollback()
    [run] = rows(job_id, triggered_by="api")  # the scheduler also armed a later slot
    record("worker SIGTERM mid-run", recovery=waited, duplicates=0, lost=0, stuck=0)
    assert run.status == "success", (run.status, run.error_message, engine.logs())


@faults_only
@pytest.mark.slow
def test_redis_killed_and_restarted_empty(engine, api_as, editor, httpserver, record, tmp_path):
    """A private redis-server (the shared one serves other people): killed, then back empty."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    url = f"redis://127.0.0.1:{port}/0"
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=tmp_path)
    try:
        api = api_as(editor)
        ids = load(api, httpserver)
        engine.scheduler(REDIS_URL=url)
        engine.worker(REDIS_URL=url)
        engine.retry(REDIS_URL=url)
        wait_for(lambda: len(succeeded()) >= 2 * len(ids), 30, engine.logs)
        server.kill()
        server.wait()
        time.sleep(5)
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=tmp_path)
        figures = settle(engine, api, ids, httpserver, utcnow())
    finally:
        server.kill()
        server.wait()
    worker_logs = [path.read_text() for path in engine.tmp.glob("worker.py.*.log")]
    restarts = sum(text.count("starting another") for text in worker_logs)
    record("Redis killed 5 s, restarted empty", restarts=restarts, **figures)
    assert (figures["duplicates"], figures["lost"], figures["stuck"]) == (0, 0, 0), figures
    assert restarts <= 4  # each child crashes once at most, then waits for Redis: no storm
