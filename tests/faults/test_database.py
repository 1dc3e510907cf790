"""PostgreSQL faults: every connection killed under load; sessions while a task runs."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.extensions import db
from app.models import utcnow
from tests.engine import wait_for
from tests.faults.conftest import faults_only, postgres_only
from tests.faults.ledger import database_outage, load, settle, succeeded
from tests.test_engine import create, rows


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
    # As in production, a worker is "lost" only well after an outage this long.
    engine.scheduler(WORKER_LOST_SECONDS="60")
    engine.worker()
    engine.retry()
    api = api_as(editor)
    ids = load(api, httpserver)
    wait_for(lambda: len(succeeded()) >= 2 * len(ids), 30, engine.logs)
    for job_id in ids * 3:  # a backlog in RQ: workers take these while the database is away
        assert api.post(f"/jobs/{job_id}/action", {"action": "trigger"}).status_code == 202
    db.session.close()  # the test's own connection is killed too: let pre-ping replace it
    killed = database_outage(database_url, outage)
    back_at = utcnow()  # the database is back: recovery counts from here

    figures = settle(engine, api, ids, httpserver, back_at)
    record(scenario, killed=killed, **figures)
    assert killed >= 3
    assert (figures["duplicates"], figures["lost"], figures["stuck"]) == (0, 0, 0), figures
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
