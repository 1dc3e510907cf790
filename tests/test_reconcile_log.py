"""The last reconcile's report in Redis, and the scheduler's figures from a real pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from prometheus_client import CollectorRegistry

from app import telemetry
from app.engine.scheduler import SchedulerProcess
from app.extensions import db
from app.models import utcnow
from app.services.ledger import instances
from app.services.ledger.reconcile_log import KEY, last_reconcile, record_reconcile


def test_the_last_pass_is_kept_and_read_back(rec):
    assert last_reconcile(rec.connection) is None  # never run (or Redis flushed)
    first = datetime(2030, 1, 1, 12, tzinfo=UTC)
    record_reconcile(rec.connection, first, {"armed": 2})
    later = datetime(2030, 1, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    record_reconcile(rec.connection, later, {"worker lost": 1, "requeued": 3})
    report = last_reconcile(rec.connection)
    assert report is not None
    assert report.at == later and report.at.utcoffset() == timedelta(0)
    assert report.changes == {"worker lost": 1, "requeued": 3}


def test_a_pass_that_changed_nothing_is_still_a_pass(rec):
    at = datetime(2030, 1, 1, tzinfo=UTC)
    record_reconcile(rec.connection, at, {})
    report = last_reconcile(rec.connection)
    assert report is not None and report.at == at and report.changes == {}


def test_a_garbled_value_reads_as_unknown(rec):
    for garbage in ("not json", "[]", '{"at": "yesterday", "changes": {}}', '{"at": null}'):
        rec.connection.set(KEY, garbage)
        assert last_reconcile(rec.connection) is None, garbage
    rec.connection.set(KEY, '{"at": "2030-01-01T00:00:00", "changes": {}}')  # no zone
    assert last_reconcile(rec.connection) is None


def _sample(name, **labels):
    registry = CollectorRegistry(auto_describe=False)
    telemetry.collect_into(registry)
    return registry.get_sample_value(name, labels) or 0.0


def test_a_scheduler_pass_records_its_reconcile_leadership_and_fired_slots(
    app, rec, editor, make_job
):
    from tests.test_ledger import overdue_job

    process = SchedulerProcess(app)
    process.recurrence = rec
    process.instance_id = instances.register(db.session, "scheduler", "test", utcnow()).id
    job, _ = overdue_job(make_job, editor, "run_once", missed=2)
    queue = job.effective_queue
    fired_before = _sample("almanac_slots_fired_total", queue=queue)
    late_before = _sample("almanac_fire_lateness_seconds_bucket", le="+Inf")
    start = utcnow()
    process._pass()  # takes the lease and reconciles: the overdue slot runs once
    report = last_reconcile(rec.connection)
    assert report is not None and report.at >= start
    assert report.changes.get("fired") == 1 and report.changes.get("missed", 0) >= 1
    assert _sample("almanac_last_reconcile_timestamp_seconds") == report.at.timestamp()
    assert _sample("almanac_slots_fired_total", queue=queue) == fired_before + 1
    # Caught up late: its lateness (well over the grace) is observed too.
    assert _sample("almanac_fire_lateness_seconds_bucket", le="+Inf") == late_before + 1
    instance = str(process.instance_id)
    assert _sample("almanac_scheduler_leader", instance=instance) == 1
    assert process.lease is not None
    token = process.lease.token
    assert _sample("almanac_scheduler_fencing_token", instance=instance) == token
    process._shutdown()
    assert _sample("almanac_scheduler_leader", instance=instance) == 0


def test_flask_reconcile_records_its_report(runner, rec, editor, make_job):
    make_job(editor)
    result = runner.invoke(args=["reconcile"])
    assert result.exit_code == 0, result.output
    report = last_reconcile(rec.connection)
    assert report is not None and report.changes == {"armed": 1}


def test_a_run_closed_as_worker_lost_is_counted_once_committed_untimed(app, rec, editor, make_job):
    from tests.test_ledger import queued

    job = make_job(editor)
    row = queued(job, started_at=utcnow() - timedelta(minutes=5), worker_name="gone:1")
    row.status = "running"
    db.session.commit()
    task = job.task_function.name
    ended = _sample("almanac_runs_ended_total", status="failed", task=task)
    timed = _sample("almanac_run_duration_seconds_count", task=task)
    process = SchedulerProcess(app)
    process.recurrence = rec
    process.instance_id = instances.register(db.session, "scheduler", "test", utcnow()).id
    process._pass()  # takes the lease and reconciles: the run is closed as worker lost
    assert last_reconcile(rec.connection).changes.get("worker lost") == 1
    assert _sample("almanac_runs_ended_total", status="failed", task=task) == ended + 1
    assert _sample("almanac_run_duration_seconds_count", task=task) == timed
    process._shutdown()
