"""Retries in-process with explicit clocks (real database): policy, claims, launches, streaks."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AuditEvent, Execution, RetryItem, ScheduledJob, utcnow
from app.services.failures import retry_queue
from app.services.ledger import runs
from app.services.ledger.runs import ExecutionStatus, Outcome
from app.services.scheduling import jobs

RETRYING = {"retry_count": 3, "retry_delay_seconds": 10, "task_function": "flaky"}


def running(job, **fields):
    """An execution a worker has claimed."""
    now = utcnow()
    values = {"status": "running", "scheduled_for": now, "started_at": now, "worker_name": "w:1"}
    row = Execution(job=job, **(values | fields))
    db.session.add(row)
    db.session.commit()
    return row


def fail(row, now, error="boom"):
    assert runs.finish(db.session, row.id, Outcome(ExecutionStatus.FAILED, error=error), now)


def item_of(row):
    db.session.expire_all()
    return db.session.scalar(select(RetryItem).where(RetryItem.execution_id == row.id))


def launch_due(now, claimer="retry:1"):
    claimed = retry_queue.claim_due(db.session, claimer, now, 100)
    db.session.commit()
    launched = retry_queue.launch(db.session, claimed, claimer, now)
    db.session.commit()
    return launched.executions


def start(row, now):
    """The worker claims a launched attempt."""
    return runs.claim(db.session, row.id, "w:1", None, now)


@pytest.mark.parametrize(
    ("backoff", "delays"),
    [("fixed", [10, 10, 10]), ("linear", [10, 20, 30]), ("exponential", [10, 20, 40])],
)
def test_each_failure_is_retried_after_its_backoff_until_dead(editor, make_job, backoff, delays):
    job = make_job(editor, **RETRYING, retry_backoff=backoff)
    row, now, seen = running(job), utcnow(), []
    for attempt, delay in enumerate(delays, start=1):
        fail(row, now, f"boom {attempt}")
        item = item_of(row)
        assert (item.status, item.attempt, item.last_error) == (
            "pending",
            attempt + 1,
            f"boom {attempt}",
        )
        seen.append((item.next_try_at - now).total_seconds())
        assert launch_due(now + timedelta(seconds=delay - 1)) == []  # not before its time
        now += timedelta(seconds=delay)
        [row] = launch_due(now)
        assert (row.attempt, row.retry_of, row.triggered_by) == (
            attempt + 1,
            item.execution_id,
            "retry",
        )
        assert item_of(db.session.get(Execution, item.execution_id)).status == "done"
        row = start(row, now)
    assert seen == delays
    fail(row, now, "boom 4")
    dead = item_of(row)
    assert dead.status == "dead" and dead.attempt == 5
    assert db.session.get(Execution, row.id).status == "failed"
    chain = db.session.scalars(select(Execution).where(Execution.job_id == job.id)).all()
    assert sorted(r.attempt for r in chain) == [1, 2, 3, 4]
    assert {r.scheduled_for for r in chain} == {chain[0].scheduled_for}  # the same slot throughout


def test_a_successful_retry_ends_the_chain_and_resets_the_streak(editor, make_job):
    job = make_job(editor, **RETRYING)
    now = utcnow()
    fail(running(job), now)
    [retry] = launch_due(now + timedelta(seconds=10))
    start(retry, now)
    assert runs.finish(db.session, retry.id, Outcome(ExecutionStatus.SUCCESS), now)
    db.session.expire_all()
    assert item_of(retry) is None
    assert db.session.get(ScheduledJob, job.id).consecutive_failures == 0


def test_a_timeout_is_retried_too(editor, make_job):
    job = make_job(editor, **RETRYING)
    row = running(job)
    runs.finish(db.session, row.id, Outcome(ExecutionStatus.TIMEOUT, error="timed out"), utcnow())
    assert item_of(row).status == "pending"


def test_without_retries_a_failure_is_dead_at_once(editor, make_job):
    row = running(make_job(editor))
    fail(row, utcnow())
    assert item_of(row).status == "dead"


def test_job_fails_after_its_streak_and_resume_restarts_it(editor, make_job):
    job = make_job(editor, max_consecutive_failures=2)
    fail(running(job), utcnow())
    db.session.expire_all()
    assert db.session.get(ScheduledJob, job.id).status == "active"
    fail(running(job), utcnow())
    db.session.expire_all()
    stopped = db.session.get(ScheduledJob, job.id)
    assert (stopped.status, stopped.next_run_time, stopped.is_schedulable) == (
        "failed",
        None,
        False,
    )
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "failed"))
    assert "2 consecutive failed runs" in audit.changes["reason"]
    jobs.apply_action(db.session, editor.user, stopped, "resume", utcnow())
    db.session.commit()
    assert (stopped.status, stopped.consecutive_failures) == ("active", 0)
    assert stopped.next_run_time is not None


def test_streak_waits_while_a_retry_is_pending(editor, make_job):
    job = make_job(editor, **RETRYING, max_consecutive_failures=1)
    fail(running(job), utcnow())
    db.session.expire_all()
    assert db.session.get(ScheduledJob, job.id).status == "active"  # a retry is coming


def test_a_success_resets_the_streak(editor, make_job):
    job = make_job(editor, max_consecutive_failures=2)
    fail(running(job), utcnow())
    row = running(job)
    runs.finish(db.session, row.id, Outcome(ExecutionStatus.SUCCESS), utcnow())
    fail(running(job), utcnow())
    db.session.expire_all()
    assert db.session.get(ScheduledJob, job.id).status == "active"


def test_a_poison_pill_goes_dead_after_its_worker_died_n_times(editor, make_job):
    job = make_job(editor, **(RETRYING | {"retry_count": 10}))
    row, now = running(job), utcnow()
    for lost in (1, 2):
        runs.fail_lost(db.session, row, "worker lost: horse died", now, max_abandoned=3)
        db.session.commit()
        assert item_of(row).abandoned == lost
        [row] = launch_due(now + timedelta(days=1))
        row = start(row, now)
    runs.fail_lost(db.session, row, "worker lost: horse died", now, max_abandoned=3)
    db.session.commit()
    dead = item_of(row)
    assert dead.status == "dead" and dead.abandoned == 3
    assert "its worker died on 3 attempts" in dead.last_error


def test_retries_wait_while_the_job_is_paused(editor, make_job):
    job = make_job(editor, **RETRYING)
    fail(running(job), utcnow())
    jobs.apply_action(db.session, editor.user, job, "pause", utcnow())
    db.session.commit()
    later = utcnow() + timedelta(minutes=1)
    assert launch_due(later) == []
    jobs.apply_action(db.session, editor.user, job, "resume", utcnow())
    db.session.commit()
    assert len(launch_due(later)) == 1


def test_pending_retries_of_a_deleted_job_are_discarded(editor, make_job):
    job = make_job(editor, **RETRYING)
    row = running(job)
    fail(row, utcnow())
    jobs.delete_job(db.session, editor.user, job, utcnow())
    db.session.commit()
    assert retry_queue.discard_orphans(db.session, utcnow()) == 1
    db.session.commit()
    assert item_of(row).status == "discarded"


def test_concurrent_claimers_never_take_the_same_item(app, editor, make_job):
    now = utcnow()
    for _ in range(60):  # a job's retries are claimed one at a time: one failure per job
        fail(running(make_job(editor, **RETRYING)), now)
    taken: dict[str, list[uuid.UUID]] = {"a": [], "b": []}

    def claimer(name):
        with app.app_context():
            while True:
                ids = retry_queue.claim_due(db.session, name, now + timedelta(minutes=1), 7)
                db.session.commit()
                if not ids:
                    break
                taken[name] += ids
            db.session.remove()

    threads = [threading.Thread(target=claimer, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not set(taken["a"]) & set(taken["b"])
    assert len(taken["a"]) + len(taken["b"]) == 60
    db.session.expire_all()
    claimed = db.session.scalars(select(RetryItem.claimed_by)).all()
    assert sorted(claimed) == sorted(["a"] * len(taken["a"]) + ["b"] * len(taken["b"]))


def test_a_claim_whose_process_died_is_handed_back(editor, make_job):
    job = make_job(editor, **RETRYING)
    row = running(job)
    now = utcnow()
    fail(row, now)
    assert retry_queue.claim_due(db.session, "dead:1", now + timedelta(minutes=1), 10)
    db.session.commit()
    assert (
        retry_queue.reclaim_stale(db.session, now + timedelta(seconds=90), timedelta(seconds=60))
        == 0
    )
    assert (
        retry_queue.reclaim_stale(db.session, now + timedelta(minutes=3), timedelta(seconds=60))
        == 1
    )
    db.session.commit()
    assert item_of(row).status == "pending"
    # The dead process's late launch finds nothing it still holds.
    assert retry_queue.launch(db.session, [item_of(row).id], "dead:1", utcnow()).executions == []


def test_the_database_refuses_a_second_attempt_for_one_failure(editor, make_job):
    job = make_job(editor)
    failed = running(job, status="failed")
    for _ in range(2):
        db.session.add(
            Execution(job_id=job.id, status="queued", retry_of=failed.id, triggered_by="retry")
        )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
