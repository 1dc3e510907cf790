"""Lock order on PostgreSQL: a job row before its executions, everywhere.

In CI a worker finishing a run (execution, then job) and the scheduler
(job, then execution) deadlocked. Two real transactions show the order holds.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Execution, ExecutionStatus, utcnow
from app.services.ledger import runs


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises every writer")


def _wait_until_someone_waits_for_a_lock(session: Session) -> None:
    deadline = time.monotonic() + 10
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    # pg_stat_activity is a snapshot taken once per transaction: end it before each look,
    # or a first look taken before the worker queued up is all this loop ever sees.
    while not session.execute(query).scalar_one():
        session.rollback()
        assert time.monotonic() < deadline, "the finishing worker never waited for the job"
        time.sleep(0.05)


def test_a_finish_waits_for_the_job_instead_of_deadlocking(postgres, app, editor, make_job):
    job = make_job(editor)
    now = utcnow()
    row = Execution(
        job=job, status="running", started_at=now, scheduled_for=now, triggered_by="scheduler"
    )
    db.session.add(row)
    db.session.commit()
    outcome: dict[str, object] = {}

    def worker() -> None:
        with app.app_context(), Session(db.engine) as session:
            try:
                success = runs.Outcome(ExecutionStatus.SUCCESS)
                outcome["finished"] = runs.finish(session, row.id, success, utcnow())
            except Exception as error:  # a deadlock lands here or in the main thread
                outcome["error"] = error

    with Session(db.engine) as scheduler, Session(db.engine) as observer:
        runs.lock_jobs(scheduler, [job.id])  # the scheduler holds the job...
        thread = threading.Thread(target=worker)
        thread.start()
        _wait_until_someone_waits_for_a_lock(observer)
        # ...and then touches the run: with the old order the worker held it already.
        scheduler.execute(update(Execution).where(Execution.id == row.id).values(reason="seen"))
        scheduler.commit()
        thread.join(15)
    assert outcome == {"finished": True}
    db.session.expire_all()
    assert db.session.get(Execution, row.id).status == "success"
