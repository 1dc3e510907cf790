"""Per-job summaries for the jobs table: right figures, and as many queries for 50 jobs as for 5."""

from __future__ import annotations

import uuid
from datetime import timedelta

from app.extensions import db
from app.models import Execution, utcnow
from app.services.scheduling.summaries import JobSummary, job_summaries
from tests.conftest import counted_statements


def add_run(job, status, created_at, **fields):
    db.session.add(Execution(job_id=job.id, status=status, created_at=created_at, **fields))


def test_a_summary_shows_last_run_next_run_and_recent_counts(editor, make_job):
    job = make_job(editor)
    now = utcnow()
    add_run(job, "timeout", now - timedelta(hours=30))  # outside the 24 hours
    add_run(job, "failed", now - timedelta(hours=3))
    add_run(job, "success", now - timedelta(hours=2))
    add_run(job, "success", now - timedelta(hours=1), duration_seconds=2.5)
    add_run(job, "skipped", now - timedelta(minutes=30))  # never ran: not the last run
    add_run(job, "running", now - timedelta(hours=26))  # a long run still counts as running
    add_run(job, "pending", now + timedelta(minutes=1))
    db.session.commit()
    summary = job_summaries(db.session, [job.id], now)[job.id]
    assert summary == JobSummary(
        last_status="success",
        last_duration_seconds=2.5,
        next_run_time=job.next_run_time,
        succeeded_24h=2,
        failed_24h=1,
        running=1,
    )


def test_a_job_that_never_ran_and_unknown_ids(editor, make_job):
    job = make_job(editor)
    summaries = job_summaries(db.session, [job.id, uuid.uuid4()], utcnow())
    assert summaries == {job.id: JobSummary(next_run_time=job.next_run_time)}


def test_timeouts_count_as_failures(editor, make_job):
    job = make_job(editor)
    now = utcnow()
    add_run(job, "timeout", now - timedelta(minutes=5), duration_seconds=30.0)
    db.session.commit()
    summary = job_summaries(db.session, [job.id], now)[job.id]
    assert (summary.last_status, summary.failed_24h, summary.succeeded_24h) == ("timeout", 1, 0)


def test_a_page_costs_the_same_queries_whatever_its_size(editor, make_job):
    now = utcnow()
    jobs = [make_job(editor, name=f"job {n}") for n in range(50)]
    for n, job in enumerate(jobs):
        add_run(job, "success" if n % 2 else "failed", now - timedelta(minutes=n))
    db.session.commit()
    ids = [job.id for job in jobs]
    with counted_statements() as small:
        five = job_summaries(db.session, ids[:5], now)
    with counted_statements() as large:
        fifty = job_summaries(db.session, ids, now)
    assert len(five) == 5 and len(fifty) == 50
    assert len(small) == len(large) == 4
    assert {s.last_status for s in fifty.values()} == {"success", "failed"}
