"""The overlap rule decided when a slot falls due, catch-up lines, and what a skip says.

In-process with explicit clocks (real database and Redis): the scheduler's
``fire`` and the worker's ``claim`` and ``finish``, no subprocesses.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Execution, utcnow
from app.services import status
from app.services.ledger import firing, runs
from app.services.ledger.runs import ExecutionStatus, Outcome
from tests.conftest import slot_rows
from tests.test_ledger import overdue_job, queued, run_reconcile

TICK = timedelta(milliseconds=100)
NO_INSTANCE = "skipped: no free instance (max_instances=1)"


def slot(job, when, **fields):
    """An armed (pending) slot recorded ahead of its time, as the scheduler records it."""
    values = {
        "status": "pending",
        "scheduled_for": when,
        "triggered_by": "scheduler",
        "created_at": when - timedelta(seconds=10),
    }
    row = Execution(job=job, **(values | fields))
    db.session.add(row)
    db.session.commit()
    return row


def fire_at(row, now):
    """The scheduler finds the slot due at ``now``."""
    plan = firing.Plan()
    firing.fire(db.session, [firing.Due(row)], now, None, plan)
    db.session.commit()
    db.session.expire_all()
    return plan


def worker_pass(job, now):
    """One worker takes the job's queued runs in queue order, each run to its end."""
    ran = []
    waiting = [r for r in slot_rows(job) if r.status == "queued"]
    for row in sorted(waiting, key=lambda r: (r.queued_at, r.scheduled_for)):
        if runs.claim(db.session, row.id, "w:1", None, now) is not None:
            assert runs.finish(db.session, row.id, Outcome(ExecutionStatus.SUCCESS), now)
            ran.append(row.scheduled_for)
    return ran


def drain(job, now):
    """Worker passes and the scheduler's releases of held runs, until nothing waits."""
    ran = []
    for _ in range(20):
        ran += worker_pass(job, now)
        firing.release_held(db.session, now, firing.Plan())
        db.session.commit()
        if not [r for r in slot_rows(job) if r.status == "queued" or r.held]:
            return ran
    raise AssertionError([(r.status, r.reason) for r in slot_rows(job)])


# ---- item 5: the scheduler applies the overlap rule when a slot falls due --------------------


@pytest.mark.parametrize(
    ("earlier", "counted"), [("queued", "0 running, 1 queued"), ("running", "1 running")]
)
def test_skip_records_a_slot_skipped_when_it_falls_due_behind_a_run(
    editor, make_job, earlier, counted
):
    job = make_job(editor, max_instances=1, overlap_policy="skip")
    now = utcnow()
    queued(job, scheduled_for=now - timedelta(seconds=5), status=earlier)
    due = slot(job, now)
    plan = fire_at(due, now + TICK)
    row = db.session.get(Execution, due.id)
    assert row.status == "skipped" and plan.counts["skipped"] == 1
    assert row.reason == f"{NO_INSTANCE}: {counted}"
    assert row.completed_at is not None and not plan.enqueue and not plan.move


def test_queue_keeps_one_slot_waiting_and_skips_the_next(editor, make_job):
    job = make_job(editor, max_instances=1, overlap_policy="queue")
    now = utcnow()
    queued(job, scheduled_for=now - timedelta(seconds=5))
    first, second = slot(job, now), slot(job, now + timedelta(seconds=1))
    fire_at(first, now + TICK)
    fire_at(second, now + timedelta(seconds=1) + TICK)
    first, second = db.session.get(Execution, first.id), db.session.get(Execution, second.id)
    assert (first.status, first.held) == ("pending", True)
    assert "overlap policy queue" in first.reason and "1 queued" in first.reason
    assert second.status == "skipped"
    assert second.reason.endswith("1 held ahead of it; a run is already waiting")


def test_a_free_instance_still_starts_the_slot_at_once(editor, make_job):
    job = make_job(editor, max_instances=2, overlap_policy="skip")
    now = utcnow()
    queued(job, scheduled_for=now - timedelta(seconds=5))
    due = slot(job, now)
    plan = fire_at(due, now + TICK)
    assert db.session.get(Execution, due.id).status == "queued" and plan.counts["fired"] == 1


def test_status_shows_queue_age_and_runs_waiting_per_job(editor, make_job):
    busy = make_job(editor, name="busy", max_instances=1, overlap_policy="queue")
    make_job(editor, name="idle")
    now = utcnow()
    queued(busy, queued_at=now - timedelta(seconds=42))
    queued(busy, queued_at=now - timedelta(seconds=2))
    slot(busy, now - timedelta(seconds=1), held=True)
    snapshot = status.cluster_status(db.session, editor.user, now, None)
    assert snapshot.queue_ages == {"default": pytest.approx(42, abs=0.01)}
    assert [(w.name, w.queued, w.held) for w in snapshot.waiting] == [("busy", 2, 1)]


def test_the_status_api_reports_saturation(api_as, editor, make_job):
    job = make_job(editor, name="busy")
    queued(job, queued_at=utcnow() - timedelta(seconds=30))
    body = api_as(editor).get("/status").json
    assert body["queueAges"]["default"] >= 30
    assert body["waitingRuns"] == [{"jobId": str(job.id), "name": "busy", "queued": 1, "held": 0}]


# ---- item 6: catch-up runs and the slots that follow them, one after another ---------------


def test_a_slot_due_during_a_run_all_catch_up_waits_behind_it_and_runs(rec, editor, make_job):
    job, now = overdue_job(make_job, editor, "run_all", missed=3)
    job.max_instances = 1
    db.session.commit()
    run_reconcile(rec, now)  # four catch-up runs: one queued, three held
    ran = worker_pass(job, now)
    firing.release_held(db.session, now, firing.Plan())  # the second catch-up run is queued
    db.session.commit()
    on_time = next(r for r in slot_rows(job) if r.scheduled_for > now)
    due = on_time.scheduled_for + TICK
    fire_at(on_time, due)
    row = db.session.get(Execution, on_time.id)
    assert (row.status, row.held) == ("pending", True)
    assert "behind 2 catch-up run(s), misfire policy run_all" in row.reason
    assert "0 running, 1 queued, 2 held ahead of it" in row.reason
    ran += drain(job, due)
    rows = [r for r in slot_rows(job) if r.scheduled_for <= on_time.scheduled_for]
    assert [r.status for r in rows] == ["success"] * 5, [(r.status, r.reason) for r in rows]
    assert ran == sorted(ran) and len(ran) == 5  # one after another, in slot order


def test_a_held_slot_fired_again_keeps_waiting(editor, make_job):
    job = make_job(editor, max_instances=1, misfire_policy="run_all")
    now = utcnow()
    row = slot(job, now, held=True)  # decided already: joined a catch-up line, say
    plan = fire_at(row, now + TICK)  # a second entry for it (a reconcile fired it first)
    row = db.session.get(Execution, row.id)
    assert (row.status, row.held) == ("pending", True) and not plan.enqueue


def test_without_run_all_a_slot_behind_held_runs_is_skipped_saying_so(editor, make_job):
    job = make_job(editor, max_instances=1, overlap_policy="skip", misfire_policy="run_once")
    now = utcnow()
    slot(job, now - timedelta(seconds=5), held=True, created_at=now - timedelta(seconds=1))
    due = slot(job, now)
    fire_at(due, now + TICK)
    row = db.session.get(Execution, due.id)
    assert row.status == "skipped"
    assert row.reason == f"{NO_INSTANCE}: 0 running, 1 held ahead of it"


def test_a_claim_refused_for_a_held_slot_ahead_says_so(editor, make_job):
    job = make_job(editor, max_instances=1, overlap_policy="skip")
    ahead = queued(job, scheduled_for=utcnow() - timedelta(seconds=5))
    ahead.status, ahead.held = "pending", True
    db.session.commit()
    newer = queued(job)
    assert runs.claim(db.session, newer.id, "w:1", None, utcnow()) is None
    db.session.expire_all()
    row = db.session.get(Execution, newer.id)
    assert row.status == "skipped"
    assert row.reason == f"{NO_INSTANCE}: 0 running, 1 held ahead of it"
