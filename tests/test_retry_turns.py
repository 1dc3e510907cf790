"""A retry attempt is never dropped by the overlap rule: it waits its turn, or is given up.

In-process with explicit clocks: the retry process's claim and launch, the
worker's claim and finish, the scheduler's reconcile.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.config import ConfigError, load_config
from app.extensions import db
from app.models import Execution, RetryItem, utcnow
from app.services.ledger import runs
from app.services.ledger.runs import ExecutionStatus, Outcome
from tests.test_ledger import run_reconcile
from tests.test_retries import fail, item_of, launch_due, running, start

ONE_RETRY = {"retry_count": 1, "retry_delay_seconds": 1, "max_instances": 1}


def attempts(job):
    db.session.expire_all()
    return db.session.scalars(
        select(Execution).where(Execution.job_id == job.id, Execution.triggered_by == "retry")
    ).all()


def test_retries_of_a_busy_job_start_one_after_another_and_none_is_skipped(editor, make_job):
    job = make_job(editor, **ONE_RETRY)
    now = utcnow()
    failed = [running(job) for _ in range(5)]
    for row in failed:
        fail(row, now)
    later, ran = now + timedelta(seconds=5), 0
    for _ in range(10):
        launched = launch_due(later)  # two workers would claim every launched attempt at once
        assert len(launched) <= 1
        started = [start(row, later) for row in launched]
        assert all(started), [r.reason for r in attempts(job)]
        for row in launched:
            runs.finish(db.session, row.id, Outcome(ExecutionStatus.SUCCESS), later)
        ran += len(launched)
    assert ran == 5
    assert sorted(r.status for r in attempts(job)) == ["success"] * 5
    assert {item_of(row).status for row in failed} == {"done"}


def test_no_retry_is_claimed_while_its_job_has_no_free_instance(editor, make_job):
    job = make_job(editor, **ONE_RETRY)
    now = utcnow()
    fail(running(job), now)
    slot = running(job, triggered_by="scheduler")
    later = now + timedelta(seconds=5)
    assert launch_due(later) == []
    runs.finish(db.session, slot.id, Outcome(ExecutionStatus.SUCCESS), later)
    assert len(launch_due(later)) == 1


def test_an_attempt_that_meets_a_busy_job_goes_back_to_wait(editor, make_job):
    job = make_job(editor, **ONE_RETRY)
    now = utcnow()
    failed = running(job)
    fail(failed, now)
    later = now + timedelta(seconds=5)
    [attempt] = launch_due(later)
    slot = running(job, triggered_by="scheduler")  # started between the launch and the claim
    assert start(attempt, later) is None
    item = item_of(failed)
    assert (item.status, item.retry_execution_id) == ("pending", None)
    assert db.session.get(Execution, attempt.id) is None  # it never started
    runs.finish(db.session, slot.id, Outcome(ExecutionStatus.SUCCESS), later)
    [again] = launch_due(later)
    assert start(again, later) is not None


def test_a_retry_that_never_finds_a_free_instance_is_given_up_visibly(
    rec, api_as, editor, make_job
):
    job = make_job(editor, **ONE_RETRY)
    paused = make_job(editor, **ONE_RETRY)
    now = utcnow()
    failed, waiting = running(job), running(paused)
    fail(failed, now)
    fail(waiting, now)
    paused.is_paused = True
    paused.status = paused.derive_status()
    db.session.commit()
    running(job, triggered_by="scheduler")  # the job stays busy
    limit = timedelta(seconds=60)
    report = run_reconcile(rec, now + timedelta(seconds=30), retry_wait_limit=limit)
    assert "retries given up" not in report.counts
    report = run_reconcile(rec, now + timedelta(seconds=90), retry_wait_limit=limit)
    assert report.counts["retries given up"] == 1
    assert item_of(waiting).status == "pending"  # a paused job's retries wait, not given up
    body = api_as(editor).get("/retries?status=dead").json
    [dead] = body["retries"]
    assert dead["executionId"] == str(failed.id)
    assert dead["lastError"].startswith("given up: no free instance within 60s of falling due")
    assert dead["lastError"].endswith("boom")


@pytest.mark.parametrize("raw", ["soon", "0", "-5", "nan"])
def test_the_retry_wait_limit_is_parsed_strictly(tmp_path, raw):
    assert load_config({}, tmp_path)["RETRY_WAIT_LIMIT_SECONDS"] == 3600
    with pytest.raises(ConfigError, match="RETRY_WAIT_LIMIT_SECONDS"):
        load_config({"RETRY_WAIT_LIMIT_SECONDS": raw}, tmp_path)


def test_scheduled_slots_keep_their_overlap_policy_beside_retries(editor, make_job):
    job = make_job(editor, **ONE_RETRY)
    now = utcnow()
    fail(running(job), now)
    [attempt] = launch_due(now + timedelta(seconds=5))
    slot = Execution(job=job, status="queued", scheduled_for=now, triggered_by="scheduler")
    db.session.add(slot)
    db.session.commit()
    assert start(attempt, now) is not None
    assert runs.claim(db.session, slot.id, "w:2", None, now) is None
    db.session.expire_all()
    assert db.session.get(Execution, slot.id).status == "skipped"
    assert db.session.scalar(select(RetryItem.status)) == "done"
