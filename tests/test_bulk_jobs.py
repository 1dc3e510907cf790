"""Bulk job actions: each job judged on its own, done or skipped with the reason, capped."""

from __future__ import annotations

import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from app.extensions import db
from app.models import Execution, ScheduledJob, utcnow
from app.services import access
from app.services.errors import Forbidden, Invalid
from app.services.scheduling import bulk_jobs, jobs
from app.services.scheduling.bulk_jobs import BulkTarget


class Recorder:
    def __init__(self) -> None:
        self.changed: list[uuid.UUID] = []

    def mark_changed(self, job_id: uuid.UUID) -> None:
        self.changed.append(job_id)


def fresh(job: ScheduledJob) -> ScheduledJob:
    db.session.expire_all()
    row = db.session.get(ScheduledJob, job.id)
    assert row is not None
    return row


def test_pause_chosen_jobs_skipping_those_the_user_may_not_touch(editor, outsider, admin, make_job):
    mine = [make_job(editor, name=f"mine {n}") for n in range(2)]
    theirs = make_job(outsider)
    system = make_job(admin, name="tidy", task_function="cleanup_history", owner_id=editor.id)
    told = Recorder()
    ids = [job.id for job in (*mine, theirs, system)]
    outcome = bulk_jobs.apply_bulk(
        db.session, editor.user, "pause", BulkTarget(job_ids=ids), utcnow(), notifier=told
    )
    assert outcome.done == [job.id for job in mine] == told.changed
    assert outcome.skipped == {
        theirs.id: "No such job.",
        system.id: "Only admins may schedule, change or run system tasks.",
    }
    assert all(fresh(job).is_paused for job in mine)
    assert not fresh(theirs).is_paused and not fresh(system).is_paused


def test_a_job_whose_state_refuses_the_action_is_skipped_with_why(editor, make_job):
    paused, running = make_job(editor, name="paused"), make_job(editor, name="active")
    jobs.apply_action(db.session, editor.user, paused, "pause", utcnow())
    target = BulkTarget(job_ids=[paused.id, running.id])
    outcome = bulk_jobs.apply_bulk(db.session, editor.user, "resume", target, utcnow())
    assert outcome.done == [paused.id]
    assert outcome.skipped == {running.id: "The job is not paused."}
    assert not fresh(paused).is_paused


def test_every_job_matching_a_filter_up_to_the_cap(editor, outsider, make_job):
    for n in range(3):
        make_job(editor, name=f"nightly {n}")
    make_job(editor, name="hourly")
    make_job(outsider, name="nightly, not mine")
    target = BulkTarget(filters=jobs.JobFilters(q="nightly"))
    first = bulk_jobs.apply_bulk(db.session, editor.user, "disable", target, utcnow(), limit=2)
    assert len(first.done) == 2 and first.truncated
    second = bulk_jobs.apply_bulk(db.session, editor.user, "delete", target, utcnow(), limit=2)
    assert len(second.done) == 2 and second.truncated
    names = {job.name for job in db.session.scalars(access.visible_jobs(editor.user))}
    assert names == {"nightly 2", "hourly"}


def test_run_now_in_bulk_starts_one_run_per_job(editor, make_job, rec):
    chosen = [make_job(editor, name=f"job {n}") for n in range(2)]
    target = BulkTarget(job_ids=[job.id for job in chosen])
    outcome = bulk_jobs.apply_bulk(
        db.session, editor.user, "trigger", target, utcnow(), recurrence=rec
    )
    assert outcome.done == [job.id for job in chosen] and len(outcome.executions) == 2
    queued = db.session.scalars(select(Execution.job_id).where(Execution.status == "queued"))
    assert sorted(queued) == sorted(job.id for job in chosen)


def test_run_now_in_bulk_stops_starting_runs_once_redis_fails(editor, make_job, rec, monkeypatch):
    chosen = [make_job(editor, name=f"job {n}") for n in range(3)]

    def down(*_args):
        raise RedisConnectionError("down")

    monkeypatch.setattr(rec, "enqueue_now", down)
    target = BulkTarget(job_ids=[job.id for job in chosen])
    outcome = bulk_jobs.apply_bulk(
        db.session, editor.user, "trigger", target, utcnow(), recurrence=rec
    )
    assert outcome.done == [] and set(outcome.skipped) == {job.id for job in chosen}
    # Only the first attempt left a (failed) run behind; the rest were not tried.
    assert len(db.session.scalars(select(Execution)).all()) == 1


def test_bulk_refuses_viewers_unknown_actions_and_oversized_lists(viewer, editor, make_job):
    job = make_job(editor)
    with pytest.raises(Forbidden):
        bulk_jobs.apply_bulk(db.session, viewer.user, "pause", BulkTarget([job.id]), utcnow())
    with pytest.raises(Invalid) as unknown:
        bulk_jobs.apply_bulk(db.session, editor.user, "explode", BulkTarget([job.id]), utcnow())
    assert set(unknown.value.fields) == {"action"}
    too_many = BulkTarget(job_ids=[uuid.uuid4() for _ in range(3)])
    with pytest.raises(Invalid) as oversized:
        bulk_jobs.apply_bulk(db.session, editor.user, "pause", too_many, utcnow(), limit=2)
    assert set(oversized.value.fields) == {"job_ids"}
    with pytest.raises(Invalid):
        bulk_jobs.apply_bulk(db.session, editor.user, "pause", BulkTarget(), utcnow())
    assert not fresh(job).is_paused
