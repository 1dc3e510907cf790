"""Row locks on PostgreSQL, shown with real concurrent transactions.

A job row is locked before its executions, everywhere: in CI a worker
finishing a run (execution, then job) and the scheduler (job, then
execution) deadlocked. Claims that obey the overlap rule count running runs
under the job's lock; a manual run's claim takes no job lock at all.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Execution, ExecutionStatus, ScheduledJob, utcnow
from app.services.ledger import runs


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises every writer")


def _wait_until_someone_waits_for_a_lock(session: Session, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    # pg_stat_activity is a snapshot taken once per transaction: end it before each look,
    # or a first look taken before the worker queued up is all this loop ever sees.
    while session.execute(query).scalar_one() < count:
        session.rollback()
        assert time.monotonic() < deadline, "nobody queued up for the job's lock"
        time.sleep(0.05)


def _claim_in_thread(app, execution_id, worker: str, outcome: dict[str, object]):
    def claim() -> None:
        with app.app_context(), Session(db.engine) as session:
            try:
                outcome[worker] = runs.claim(session, execution_id, worker, None, utcnow())
            except Exception as error:  # pragma: no cover - reported by the assertion
                outcome[worker] = error

    thread = threading.Thread(target=claim)
    thread.start()
    return thread


def _queued(make_execution, job, **fields) -> Execution:
    values = {"status": "queued", "scheduled_for": utcnow(), "triggered_by": "scheduler"}
    return make_execution(job, **(values | fields))


def _status(row: Execution) -> str:
    db.session.expire_all()
    return db.session.get(Execution, row.id).status


def test_a_manual_claim_does_not_wait_for_its_job(postgres, app, editor, make_job, make_execution):
    job = make_job(editor, max_instances=1)
    manual = _queued(make_execution, job, triggered_by="manual")
    outcome: dict[str, object] = {}
    with Session(db.engine) as scheduler:
        runs.lock_jobs(scheduler, [job.id])  # the scheduler holds the job
        thread = _claim_in_thread(app, manual.id, "w:1", outcome)
        thread.join(10)
        assert not thread.is_alive(), "the manual run waited for its job's lock"
        scheduler.commit()
    assert outcome["w:1"] is not None and _status(manual) == "running"


def test_two_limited_claims_never_both_start_past_the_limit(
    postgres, app, editor, make_job, make_execution
):
    job = make_job(editor, max_instances=1, overlap_policy="skip")
    first, second = _queued(make_execution, job), _queued(make_execution, job)
    outcome: dict[str, object] = {}
    with Session(db.engine) as scheduler, Session(db.engine) as observer:
        runs.lock_jobs(scheduler, [job.id])  # both claims line up behind the job's lock
        threads = [
            _claim_in_thread(app, first.id, "w:1", outcome),
            _claim_in_thread(app, second.id, "w:2", outcome),
        ]
        _wait_until_someone_waits_for_a_lock(observer, count=2)
        scheduler.commit()
        for thread in threads:
            thread.join(15)
    assert sorted(_status(row) for row in (first, second)) == ["running", "skipped"]
    assert sum(result is not None for result in outcome.values()) == 1


def test_a_limit_lowered_while_a_claim_waits_is_obeyed(
    postgres, app, editor, make_job, make_execution
):
    job = make_job(editor, max_instances=2, overlap_policy="skip")
    _queued(make_execution, job, status="running", started_at=utcnow())
    waiting = _queued(make_execution, job)
    outcome: dict[str, object] = {}
    with Session(db.engine) as editing, Session(db.engine) as observer:
        runs.lock_jobs(editing, [job.id])
        thread = _claim_in_thread(app, waiting.id, "w:1", outcome)  # reads the limit 2
        _wait_until_someone_waits_for_a_lock(observer)
        editing.execute(
            update(ScheduledJob).where(ScheduledJob.id == job.id).values(max_instances=1)
        )
        editing.commit()
        thread.join(15)
    assert outcome == {"w:1": None} and _status(waiting) == "skipped"


def test_a_slot_closed_while_its_claim_waits_stays_closed(
    postgres, app, editor, make_job, make_execution
):
    job = make_job(editor, max_instances=1)
    slot = _queued(make_execution, job)
    outcome: dict[str, object] = {}
    with Session(db.engine) as scheduler, Session(db.engine) as observer:
        runs.lock_jobs(scheduler, [job.id])
        thread = _claim_in_thread(app, slot.id, "w:1", outcome)  # reads it queued
        _wait_until_someone_waits_for_a_lock(observer)
        scheduler.execute(
            update(Execution).where(Execution.id == slot.id).values(status="cancelled")
        )
        scheduler.commit()
        thread.join(15)
    assert outcome == {"w:1": None} and _status(slot) == "cancelled"


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
