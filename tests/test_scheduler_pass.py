"""The scheduler's pass in-process: a pass that fails half-way loses no slot.

Real Redis and the suite's database; the failure is a database error raised
where a deadlock struck in CI (planning the next slots, after the fired ones
were committed).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from app.engine.scheduler import WAKE_MARGIN, SchedulerProcess
from app.extensions import db
from app.models import utcnow
from app.services.ledger import firing, instances
from app.services.ledger.recurrence import rq_job_id
from tests.conftest import slot_rows


def slots(job):
    return [(row.scheduled_for, row.status) for row in slot_rows(job)]


def test_a_pass_that_fails_after_firing_is_repaired_on_the_next_pass(
    app, rec, editor, make_job, monkeypatch
):
    # The first slot lies a little ahead: a slow first pass must not fire it already.
    job = make_job(
        editor, schedule_config={"seconds": 1}, start_date=utcnow() + timedelta(seconds=2)
    )
    process = SchedulerProcess(app)
    process.poll = 0.01
    process.recurrence = rec
    process.instance_id = instances.register(db.session, "scheduler", "test", utcnow()).id
    process._pass()  # takes the lease, reconciles: the first slot is armed
    [(first, status)] = slots(job)
    assert status == "pending" and process.lease is not None
    time.sleep(max(0.0, (first - utcnow()).total_seconds()) + 0.05)

    planned = firing.plan_next_many
    failures = []

    def deadlock_once(*args, **kwargs):
        if not failures:
            failures.append("deadlock")
            raise OperationalError("UPDATE scheduled_jobs", {}, RuntimeError("deadlock detected"))
        return planned(*args, **kwargs)

    monkeypatch.setattr(firing, "plan_next_many", deadlock_once)
    process._pass()  # fires the first slot, then fails planning the second
    assert failures and slots(job) == [(first, "queued")]

    process._pass()  # reconciles at once and continues from the slot that fired
    (_, status), (second, _) = slots(job)  # the second may be due (and queued) already
    assert status == "queued" and second == first + timedelta(seconds=1)
    process._shutdown()


def test_the_scheduler_passes_its_run_all_cap_to_the_ledger(app, rec, editor, make_job):
    from tests.test_ledger import overdue_job

    app.config["MISFIRE_RUN_ALL_CAP"] = 2
    try:
        process = SchedulerProcess(app)
    finally:
        app.config["MISFIRE_RUN_ALL_CAP"] = 100
    process.recurrence = rec
    process.instance_id = instances.register(db.session, "scheduler", "test", utcnow()).id
    job, now = overdue_job(make_job, editor, "run_all", missed=4)
    process._pass()  # takes the lease and reconciles: the missed slots are caught up
    late = [status for when, status in slots(job) if when <= now]
    assert late == ["missed"] * 3 + ["queued"] * 2
    process._shutdown()


def leading_process(app, rec, poll):
    process = SchedulerProcess(app)
    process.poll = poll
    process.recurrence = rec
    process.instance_id = instances.register(db.session, "scheduler", "test", utcnow()).id
    process._pass()  # takes the lease
    assert process.lease is not None
    return process


def test_the_leader_wakes_when_its_next_slot_falls_due_not_a_poll_later(app, rec, editor, make_job):
    job = make_job(
        editor, schedule_config={"seconds": 2}, start_date=utcnow() + timedelta(seconds=1)
    )
    process = leading_process(app, rec, poll=5.0)  # its first pass arms the first slot
    [(first, status)] = slots(job)
    assert status == "pending"
    wait = process.until_next_pass()
    expected = (first - utcnow()).total_seconds()
    assert 0 < wait < 5.0 and abs(wait - expected) < 0.1  # its second, plus the margin
    time.sleep(wait)
    process._pass()
    assert slots(job)[0] == (first, "queued")
    late = rec.connection.hget(f"rq:job:{rq_job_id(slot_rows(job)[0].id)}", "enqueued_at")
    assert late is not None
    enqueued = datetime.fromisoformat(late.decode().replace("Z", "+00:00"))
    assert timedelta(0) <= enqueued - first < timedelta(seconds=0.5)  # the poll was 5 s
    process._shutdown()


def test_a_slot_still_due_after_a_pass_gets_one_pass_at_once_then_the_poll(app, rec):
    process = leading_process(app, rec, poll=5.0)
    assert process.until_next_pass() == 5.0  # nothing armed: the poll
    rec.connection.zadd(rec.scheduler.scheduled_jobs_key, {"stuck": time.time() - 10})
    try:
        assert process.until_next_pass() == 0.0  # fell due during the pass: at once
        assert process.until_next_pass() == 5.0  # still there: never spin
        rec.connection.zadd(rec.scheduler.scheduled_jobs_key, {"stuck": time.time() + 1})
        assert 0.9 < process.until_next_pass() <= 1.0 + WAKE_MARGIN
        assert process.until_next_pass() > 0.0  # not behind any more
    finally:
        rec.connection.zrem(rec.scheduler.scheduled_jobs_key, "stuck")
        process._shutdown()


def test_a_standby_scheduler_keeps_the_poll(app, rec):
    process = SchedulerProcess(app)
    process.poll = 3.0
    process.recurrence = rec
    rec.connection.zadd(rec.scheduler.scheduled_jobs_key, {"soon": time.time() + 0.5})
    try:
        assert process.lease is None and process.until_next_pass() == 3.0
    finally:
        rec.connection.zrem(rec.scheduler.scheduled_jobs_key, "soon")
