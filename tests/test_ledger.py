"""The ledger and its policies, in-process with explicit clocks (real Redis and database)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from app.engine.scheduler import carry_out
from app.extensions import db
from app.models import Execution, SchedulerInstance, utcnow
from app.services.ledger import firing, instances, leadership, overlap, reconcile, runs
from app.services.ledger.recurrence import Arm, Fenced, rq_job_id
from app.services.scheduling import jobs
from app.tasks.registry import TaskRegistry
from tests.conftest import slot_rows

TTL = timedelta(seconds=10)


def scheduler_instance():
    return instances.register(db.session, "scheduler", "test", utcnow())


def run_reconcile(rec, now, **options):
    plan, report = reconcile.reconcile(db.session, rec, now, None, timedelta(seconds=60), **options)
    db.session.commit()
    carry_out(rec, plan, None)
    return report


# ---- leadership -----------------------------------------------------------------


def test_one_leader_at_a_time_with_growing_tokens(app):
    first, second = scheduler_instance(), scheduler_instance()
    now = utcnow()
    lease = leadership.try_acquire(db.session, first.id, now, TTL)
    assert lease is not None and lease.token == 1
    assert leadership.try_acquire(db.session, second.id, now, TTL) is None
    later = now + TTL + timedelta(seconds=1)
    taken = leadership.try_acquire(db.session, second.id, later, TTL)
    assert taken is not None and taken.token == 2
    with pytest.raises(leadership.LostLeadership):
        leadership.renew(db.session, lease, later, TTL)
    with pytest.raises(leadership.LostLeadership):
        leadership.fence(db.session, lease, later)
    db.session.rollback()
    leadership.fence(db.session, taken, later)  # the new leader passes
    db.session.rollback()
    assert db.session.get(SchedulerInstance, second.id).is_leader
    assert not db.session.get(SchedulerInstance, first.id).is_leader
    leadership.release(db.session, taken)
    assert leadership.try_acquire(db.session, first.id, later, TTL).token == 3


def test_redis_writes_are_fenced_by_the_newest_token(rec):
    assert rec.claim_token(5)
    assert not rec.claim_token(4)  # an older leader cannot take Redis back
    arm = Arm(uuid.uuid4(), utcnow() + timedelta(hours=1), "default", 60)
    with pytest.raises(Fenced) as stale:
        rec.apply(4, arm=[arm])
    assert not stale.value.forgotten
    assert not rec.is_armed(rq_job_id(arm.execution_id))
    rec.apply(5, arm=[arm])
    assert rec.is_armed(rq_job_id(arm.execution_id))
    rec.connection.flushdb()
    with pytest.raises(Fenced) as forgotten:
        rec.apply(5, arm=[arm])
    assert forgotten.value.forgotten


# ---- arming and reconcile -----------------------------------------------------------


def test_reconcile_arms_one_slot_per_job_and_drops_strays(rec, editor, make_job):
    job = make_job(editor, schedule_config={"minutes": 5})
    paused = make_job(editor, name="paused")
    paused.is_paused = True
    paused.status = "paused"
    db.session.commit()
    stray = Arm(uuid.uuid4(), utcnow() + timedelta(hours=1), "default", 60)
    rec.apply(None, arm=[stray])
    now = utcnow()
    report = run_reconcile(rec, now)
    assert report.counts["armed"] == 1 and report.counts["dropped"] == 1
    [slot] = slot_rows(job)
    assert slot.status == "pending" and slot.scheduled_for == job.next_run_time
    armed = rec.armed()
    assert set(armed) == {rq_job_id(slot.id)}
    assert armed[rq_job_id(slot.id)] >= slot.scheduled_for.timestamp()  # never early
    assert not slot_rows(paused)
    assert run_reconcile(rec, now).summary() == "nothing to change"  # idempotent


def test_reconcile_rearms_after_redis_is_flushed(rec, editor, make_job):
    job = make_job(editor, schedule_config={"minutes": 5})
    run_reconcile(rec, utcnow())
    rec.connection.flushdb()
    report = run_reconcile(rec, utcnow())
    assert report.counts["armed"] == 1
    [slot] = slot_rows(job)
    assert rec.is_armed(rq_job_id(slot.id))


def test_schedule_change_replaces_the_armed_slot(rec, editor, make_job):
    job = make_job(editor, schedule_config={"hours": 5})
    run_reconcile(rec, utcnow())
    [old] = slot_rows(job)
    jobs.update_job(db.session, editor.user, job, {"schedule_config": {"minutes": 1}}, utcnow())
    db.session.commit()
    report = run_reconcile(rec, utcnow())
    assert report.counts["re-armed"] == 1, report.summary()
    [new] = slot_rows(job)
    assert new.id != old.id and new.scheduled_for < old.scheduled_for
    assert set(rec.armed()) == {rq_job_id(new.id)}


def test_a_slot_whose_successor_was_never_planned_is_continued_not_skipped(rec, editor, make_job):
    """A pass that fired a slot and failed before planning the next (a deadlock,
    a crash) loses no slot: reconcile continues from the slot that fired."""
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(seconds=35)
    job = make_job(editor, schedule_config={"seconds": 10}, start_date=start)
    fired = start + timedelta(seconds=10)
    db.session.add(
        Execution(job=job, status="success", scheduled_for=fired, triggered_by="scheduler")
    )
    job.next_run_time = fired  # as the failed pass left it
    db.session.commit()
    report = run_reconcile(rec, now)
    assert report.counts["armed"] == 1, report.summary()
    rows = slot_rows(job)
    assert [(r.scheduled_for - start, r.status) for r in rows] == [
        (timedelta(seconds=10), "success"),
        (timedelta(seconds=20), "pending"),  # overdue: the next tick fires it, late
    ]
    assert rec.is_armed(rq_job_id(rows[1].id))


def test_a_job_never_armed_counts_from_now(rec, editor, make_job):
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(seconds=35)
    job = make_job(editor, schedule_config={"seconds": 10}, start_date=start)
    job.next_run_time = start  # set when saved; no scheduler ran since
    db.session.commit()
    run_reconcile(rec, now)
    [row] = slot_rows(job)
    assert row.status == "pending" and row.scheduled_for == start + timedelta(seconds=40)


# ---- misfire: exact counts ---------------------------------------------------------------


def overdue_job(make_job, editor, policy, missed=10):
    """A 10-second job whose armed slot is ``missed`` slots in the past, unarmed."""
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(seconds=10 * missed + 5)
    job = make_job(
        editor,
        schedule_config={"seconds": 10},
        start_date=start,
        misfire_policy=policy,
        misfire_grace_seconds=2,
        max_instances=100,
    )
    db.session.add(
        Execution(job=job, status="pending", scheduled_for=start, triggered_by="scheduler")
    )
    db.session.commit()
    return job, now


@pytest.mark.parametrize(
    ("policy", "ran", "missed"),
    [("skip", 0, 11), ("run_once", 1, 10), ("run_all", 11, 0)],
)
def test_misfire_policy_exact_counts(rec, editor, make_job, policy, ran, missed):
    job, now = overdue_job(make_job, editor, policy)
    run_reconcile(rec, now)
    rows = slot_rows(job)
    late = [r for r in rows if r.scheduled_for <= now]
    assert len(late) == 11  # the slot at start and the ten after it
    assert sum(r.status == "queued" for r in late) == ran
    assert sum(r.status == "missed" for r in late) == missed
    assert all("misfire policy " + policy in r.reason for r in late)
    if policy == "run_once":
        assert next(r for r in late if r.status == "queued").scheduled_for == late[-1].scheduled_for
    future = [r for r in rows if r.scheduled_for > now]
    assert len(future) == 1 and future[0].status == "pending"  # armed again
    assert len({r.scheduled_for for r in rows}) == len(rows)


def test_run_all_cap(rec, editor, make_job):
    job, now = overdue_job(make_job, editor, "run_all")
    run_reconcile(rec, now, run_all_cap=3)
    late = [r for r in slot_rows(job) if r.scheduled_for <= now]
    assert [r.status for r in late] == ["missed"] * 8 + ["queued"] * 3


def test_catch_up_runs_wait_their_turn(rec, editor, make_job):
    job, now = overdue_job(make_job, editor, "run_all", missed=3)
    job.max_instances = 1
    db.session.commit()
    run_reconcile(rec, now)
    late = [r for r in slot_rows(job) if r.scheduled_for <= now]
    assert [r.status for r in late] == ["queued", "pending", "pending", "pending"]
    assert all(overlap.is_held_row(r) for r in late[1:])
    late[0].status = "success"
    db.session.commit()
    plan = firing.Plan()
    firing.release_held(db.session, now, plan)
    db.session.commit()
    late = [r for r in slot_rows(job) if r.scheduled_for <= now]
    assert [r.status for r in late] == ["success", "queued", "pending", "pending"]
    assert "catch-up run" in late[1].reason


# ---- claim: overlap, duplicates, outcomes ----------------------------------------------------


def queued(job, **fields):
    values = {"status": "queued", "scheduled_for": utcnow(), "triggered_by": "scheduler"}
    row = Execution(job=job, **(values | fields))
    db.session.add(row)
    db.session.commit()
    return row


def test_a_second_claim_is_a_no_op(editor, make_job):
    row = queued(make_job(editor))
    assert runs.claim(db.session, row.id, "w:1", None, utcnow()) is not None
    assert runs.claim(db.session, row.id, "w:2", None, utcnow()) is None
    assert runs.claim(db.session, uuid.uuid4(), "w:2", None, utcnow()) is None
    db.session.expire_all()
    assert db.session.get(Execution, row.id).worker_name == "w:1"


@pytest.mark.parametrize(("policy", "status"), [("skip", "skipped"), ("queue", "pending")])
def test_overlap_is_applied_when_a_run_would_start(editor, make_job, policy, status):
    job = make_job(editor, max_instances=1, overlap_policy=policy)
    queued(job, started_at=utcnow()).status = "running"
    db.session.commit()
    second = queued(job)
    assert runs.claim(db.session, second.id, "w:1", None, utcnow()) is None
    db.session.expire_all()
    row = db.session.get(Execution, second.id)
    assert row.status == status and "max_instances=1" in row.reason
    if policy == "queue":
        third = queued(job)
        runs.claim(db.session, third.id, "w:1", None, utcnow())
        db.session.expire_all()
        assert "already waiting" in db.session.get(Execution, third.id).reason


def test_run_now_ignores_max_instances(editor, make_job):
    job = make_job(editor, max_instances=1)
    queued(job).status = "running"
    db.session.commit()
    manual = queued(job, triggered_by="manual")
    assert runs.claim(db.session, manual.id, "w:1", None, utcnow()) is not None


def test_a_claim_without_a_transaction_leaves_the_next_one_whole(editor, make_job):
    # A manual claim no webhook listens for commits statement by statement; its
    # connection goes back to the pool transactional again, so a rollback still undoes.
    manual = queued(make_job(editor), triggered_by="api")
    one_connection = create_engine(db.engine.url, pool_size=1, max_overflow=0)
    try:
        with Session(one_connection) as session:
            row = runs.claim(session, manual.id, "w:1", None, utcnow())
            assert row is not None and row.status == "running"
        with Session(one_connection) as session:
            undone = update(Execution).where(Execution.id == manual.id).values(reason="undone")
            session.execute(undone)
            session.rollback()
    finally:
        one_connection.dispose()
    db.session.expire_all()
    stored = db.session.get(Execution, manual.id)
    assert (stored.status, stored.worker_name, stored.reason) == ("running", "w:1", None)


def test_execute_records_failures_and_http_status(editor, make_job, httpserver):
    httpserver.expect_request("/down").respond_with_data("no", status=503)
    flaky = make_job(editor, task_function="flaky", task_args={"failure_rate": 1})
    outcome = runs.execute(flaky, 4096)
    assert outcome.status == "failed" and "simulated" in outcome.error
    assert "Traceback" in outcome.traceback
    http = make_job(
        editor,
        name="h",
        task_function="http_request",
        task_args={"url": httpserver.url_for("/down")},
    )
    outcome = runs.execute(http, 4096)
    assert outcome.status == "failed" and outcome.http_status == 503


def test_execute_captures_bounded_output(editor, make_job, monkeypatch):
    job = make_job(editor)

    def noisy(**_):
        print("x" * 5000)
        return {"ok": True}

    private = TaskRegistry()
    private.register(dataclasses.replace(runs.registry.get("noop"), func=noisy))
    monkeypatch.setattr(runs, "registry", private)
    outcome = runs.execute(job, 1024)
    assert outcome.status == "success"
    assert outcome.log.startswith("x" * 1024) and "more characters not kept" in outcome.log


def test_finish_updates_the_job_summary_and_refuses_closed_runs(editor, make_job):
    job = make_job(editor)
    row = queued(job)
    runs.claim(db.session, row.id, "w:1", None, utcnow())
    assert runs.finish(
        db.session, row.id, runs.Outcome(runs.ExecutionStatus.FAILED, error="x"), utcnow()
    )
    db.session.expire_all()
    assert job.last_status == "failed" and job.consecutive_failures == 1
    assert not runs.finish(db.session, row.id, runs.Outcome(runs.ExecutionStatus.SUCCESS), utcnow())
    db.session.expire_all()  # the refused outcome's summary was rolled back with it
    assert job.last_status == "failed" and job.consecutive_failures == 1


# ---- sweeps ------------------------------------------------------------------------------


def test_abandoned_run_is_failed_worker_lost(rec, editor, make_job):
    job = make_job(editor)
    row = queued(job, started_at=utcnow() - timedelta(minutes=5), worker_name="gone:1")
    row.status = "running"
    live = instances.register(db.session, "worker", "t", utcnow())
    alive = queued(
        job, started_at=utcnow() - timedelta(minutes=5), worker_name=f"{live.hostname}:{live.pid}"
    )
    alive.status = "running"
    db.session.commit()
    report = run_reconcile(rec, utcnow())
    assert report.counts["worker lost"] == 1
    db.session.expire_all()
    assert db.session.get(Execution, row.id).status == "failed"
    assert db.session.get(Execution, alive.id).status == "running"


def test_queued_run_lost_from_redis_is_requeued(rec, editor, make_job):
    row = queued(make_job(editor), queued_at=utcnow() - timedelta(minutes=1))
    report = run_reconcile(rec, utcnow())
    assert report.counts["requeued"] == 1
    assert rec.job_waiting(row.id)


def test_stale_instances_are_marked_stopped(app):
    instance = instances.register(db.session, "worker", "t", utcnow() - timedelta(minutes=5))
    assert instances.mark_stale(db.session, utcnow(), timedelta(seconds=30)) == 1
    db.session.commit()
    assert db.session.get(SchedulerInstance, instance.id).stopped_at is not None


def test_flask_reconcile_prints_what_changed(runner, rec, editor, make_job):
    make_job(editor)
    result = runner.invoke(args=["reconcile"])
    assert result.exit_code == 0, result.output
    assert "armed: 1" in result.output


def test_quick_reconcile_skips_the_scan_only_when_counts_agree(rec, editor, make_job):
    job = make_job(editor, schedule_config={"minutes": 5})
    run_reconcile(rec, utcnow())
    plan, report = reconcile.reconcile(db.session, rec, utcnow(), None, full=False)
    assert plan.is_empty() and report.summary() == "nothing to change"
    db.session.rollback()
    [slot] = slot_rows(job)
    rec.apply(None, drop=[rq_job_id(slot.id)])  # drift: the entry is gone from Redis
    plan, report = reconcile.reconcile(db.session, rec, utcnow(), None, full=False)
    assert report.counts["armed"] == 1
