"""PostgreSQL faults: every connection killed under load; sessions while a task runs."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.extensions import db
from app.models import utcnow
from tests.engine import wait_for
from tests.faults.conftest import faults_only, postgres_only
from tests.faults.ledger import database_outage, duplicates, executions, lost, stuck
from tests.test_engine import create, rows

JOBS = 4
EVERY = 2  # seconds: a load two workers keep up with on a busy machine


def _load(api, httpserver):
    httpserver.expect_request("/hit").respond_with_data("ok")
    url = httpserver.url_for("/hit")
    return [
        create(
            api,
            name=f"hit {n}",
            taskFunction="http_request",
            scheduleConfig={"seconds": EVERY},
            taskArgs={"url": url},
        )
        for n in range(JOBS)
    ]


def _pending_work():
    return [
        (r.status, str(r.scheduled_for.time()))
        for r in executions()
        if r.status in ("queued", "running")
    ]


@postgres_only
@pytest.mark.parametrize(
    ("outage", "scenario"),
    [
        (0, "PostgreSQL connections killed"),
        pytest.param(6, "PostgreSQL away 6 s", marks=[faults_only, pytest.mark.slow]),
        pytest.param(25, "PostgreSQL away 25 s", marks=[faults_only, pytest.mark.slow]),
    ],
)
def test_every_process_recovers_from_a_database_outage(
    engine, api_as, editor, httpserver, database_url, record, outage, scenario
):
    engine.scheduler()
    engine.worker()
    engine.retry()
    api = api_as(editor)
    ids = _load(api, httpserver)
    wait_for(lambda: sum(r.status == "success" for r in executions()) >= 2 * JOBS, 30, engine.logs)
    for job_id in ids * 3:  # a backlog in RQ: workers take these while the database is away
        assert api.post(f"/jobs/{job_id}/action", {"action": "trigger"}).status_code == 202
    db.session.close()  # the test's own connection is killed too: let pre-ping replace it
    killed = database_outage(database_url, outage)
    back_at = utcnow()  # the database is back: recovery counts from here

    def each_job_ran_again():
        fresh = {r.job_id for r in executions() if r.status == "success" and r.started_at > back_at}
        return fresh >= set(ids)

    wait_for(each_job_ran_again, 20, engine.logs)
    recovery = (
        max(
            min(
                r.started_at
                for r in executions()
                if r.job_id == i and r.status == "success" and r.started_at > back_at
            )
            for i in ids
        )
        - back_at
    ).total_seconds()
    time.sleep(3)  # some load after the recovery
    for job_id in ids:
        assert api.post(f"/jobs/{job_id}/action", {"action": "pause"}).status_code == 200
    wait_for(lambda: not _pending_work(), 30, lambda: (_pending_work(), engine.logs()))
    engine.stop_all()
    rows = executions()
    ran = [r for r in rows if r.started_at is not None]
    figures = {
        "recovery": round(recovery, 1),
        "duplicates": duplicates(rows) + max(len(httpserver.log) - len(ran), 0),
        "lost": lost(rows, timedelta(seconds=EVERY)),
        "stuck": stuck(rows, utcnow()),
    }
    record(scenario, killed=killed, **figures)
    assert killed >= 3
    assert figures["duplicates"] == 0 and figures["stuck"] == 0, figures
    assert len(httpserver.log) == len(ran)
    assert figures["lost"] == 0, (
        [
            (r.status, str(r.scheduled_for.time()), r.error_message)
            for r in rows
            if r.status == "failed"
        ],
        figures,
    )
    db.session.rollback()


IDLE_IN_TRANSACTION = text(
    "SELECT pid, backend_type, left(query, 120) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND state = 'idle in transaction' AND state_change < now() - interval '1 second'"
)


@postgres_only
def test_no_transaction_is_held_open_while_a_task_runs(engine, api_as, editor, database_url):
    worker = engine.worker(WORKER_CONCURRENCY="1")
    api = api_as(editor)
    job_id = create(api, taskFunction="sleep", taskArgs={"seconds": 4}, scheduleConfig={"hours": 1})
    assert api.post(f"/jobs/{job_id}/action", {"action": "trigger"}).status_code == 202
    wait_for(lambda: rows(job_id, status="running"), 20, engine.logs)
    db.session.close()  # the test's own session ends its transaction too
    watcher = create_engine(database_url, poolclass=NullPool)
    seen = []
    try:
        with watcher.connect() as connection:
            for _ in range(8):  # 2.5 s of the 4 s task
                time.sleep(0.3)
                seen += connection.execute(IDLE_IN_TRANSACTION).all()
                connection.rollback()
    finally:
        watcher.dispose()
    assert not seen, seen
    wait_for(lambda: rows(job_id, status="success"), 20, engine.logs)
    assert engine.stop(worker) == 0
