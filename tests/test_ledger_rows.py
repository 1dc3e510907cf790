"""What the ledger writes on its rows: the held state, and the RQ job id of every run."""

from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.models import Execution, TriggeredBy, utcnow
from app.services.failures import retry_queue
from app.services.ledger import firing, overlap, runs
from app.services.ledger.recurrence import rq_job_id
from app.services.ledger.runs import ExecutionStatus, Outcome
from tests.conftest import slot_rows
from tests.test_ledger import overdue_job, queued, run_reconcile


def test_held_is_a_column_and_release_clears_it(rec, editor, make_job):
    job, now = overdue_job(make_job, editor, "run_all", missed=2)
    job.max_instances = 1
    db.session.commit()
    run_reconcile(rec, now)
    late = [r for r in slot_rows(job) if r.scheduled_for <= now]
    assert [(r.status, r.held) for r in late] == [
        ("queued", False),
        ("pending", True),
        ("pending", True),
    ]
    assert late[1].reason.startswith("catch-up run") and late[1].reason.endswith(overlap.HELD)
    assert overlap.held_jobs(db.session, [job.id]) == {job.id}
    late[0].status = "success"
    db.session.commit()
    firing.release_held(db.session, now, firing.Plan())
    db.session.commit()
    late = [r for r in slot_rows(job) if r.scheduled_for <= now]
    assert [(r.status, r.held) for r in late][1:] == [("queued", False), ("pending", True)]


def test_a_held_row_cannot_be_claimed_and_holds_back_newer_slots(editor, make_job):
    job = make_job(editor, max_instances=1, overlap_policy="queue")
    first = queued(job, scheduled_for=utcnow() - timedelta(seconds=5))
    first.status, first.held = "pending", True
    db.session.commit()
    assert runs.claim(db.session, first.id, "w:1", None, utcnow()) is None
    newer = queued(job)
    assert runs.claim(db.session, newer.id, "w:1", None, utcnow()) is None  # no overtaking
    db.session.expire_all()
    assert db.session.get(Execution, newer.id).status == "skipped"  # one already waits


def test_the_overlap_policy_holds_through_the_column(editor, make_job):
    job = make_job(editor, max_instances=1, overlap_policy="queue")
    queued(job, started_at=utcnow()).status = "running"
    db.session.commit()
    second = queued(job)
    assert runs.claim(db.session, second.id, "w:1", None, utcnow()) is None
    db.session.expire_all()
    row = db.session.get(Execution, second.id)
    assert (row.status, row.held) == ("pending", True)
    assert row.reason == f"{overlap.HELD} (max_instances=1, overlap policy queue): 1 running"


def test_armed_and_catch_up_slots_record_their_rq_job_id(rec, editor, make_job):
    job, now = overdue_job(make_job, editor, "run_all", missed=2)
    run_reconcile(rec, now)
    rows = slot_rows(job)
    assert len(rows) == 4  # the overdue slot, two catch-ups, the next armed slot
    assert all(r.rq_job_id == rq_job_id(r.id) for r in rows[1:])
    assert {r.status for r in rows} == {"queued", "pending"}


def test_bulk_armed_slots_record_their_rq_job_id(rec, editor, make_job):
    jobs = [make_job(editor, name=f"job {n}") for n in range(3)]
    run_reconcile(rec, utcnow())
    for job in jobs:
        [row] = slot_rows(job)
        assert row.rq_job_id == rq_job_id(row.id)


def test_run_now_records_its_rq_job_id(rec, editor, make_job):
    job = make_job(editor)
    row = runs.trigger(db.session, rec, job, editor.user, TriggeredBy.MANUAL, utcnow())
    assert row.rq_job_id == rq_job_id(row.id)
    assert rec.job_waiting(row.id)


def test_a_retry_attempt_records_its_rq_job_id(editor, make_job):
    job = make_job(editor, retry_count=1, retry_delay_seconds=10, task_function="flaky")
    now = utcnow()
    row = queued(job, status="running", started_at=now)
    assert runs.finish(db.session, row.id, Outcome(ExecutionStatus.FAILED, error="boom"), now)
    later = now + timedelta(seconds=11)
    claimed = retry_queue.claim_due(db.session, "retry:1", later, 10)
    db.session.commit()
    [attempt] = retry_queue.launch(db.session, claimed, "retry:1", later).executions
    assert attempt.rq_job_id == rq_job_id(attempt.id)
