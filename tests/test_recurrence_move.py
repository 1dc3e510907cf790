"""Firing moves ids: the job hash saved whole at arm time is flipped to queued and pushed.

Real Redis; what RQ reads back must be what its own ``enqueue_job`` would have left.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from rq.job import JobStatus

from app.services.ledger.recurrence import ENTRY_FUNC, Arm, Armed, Fenced, JsonJob, rq_job_id


def arm_due(rec, queue="default", seconds_ago=2):
    execution_id = uuid.uuid4()
    when = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    rec.apply(None, arm=[Arm(execution_id, when, queue, 90)])
    return execution_id


def test_a_due_entry_comes_with_the_queue_it_was_armed_for(rec):
    first, second = arm_due(rec), arm_due(rec, queue="critical")
    rec.apply(None, arm=[Arm(uuid.uuid4(), datetime.now(UTC) + timedelta(hours=1), "default", 9)])
    due = sorted(rec.due(), key=lambda entry: entry.queue)
    assert due == [Armed(rq_job_id(second), "critical"), Armed(rq_job_id(first), "default")]


def test_an_entry_whose_job_hash_is_gone_is_removed_not_returned(rec):
    gone, kept = arm_due(rec), arm_due(rec)
    rec.connection.delete(JsonJob.key_for(rq_job_id(gone)))
    assert rec.due() == [Armed(rq_job_id(kept), "default")]
    assert not rec.is_armed(rq_job_id(gone)) and rec.is_armed(rq_job_id(kept))


def test_a_moved_job_is_what_rq_enqueue_job_leaves(rec):
    execution_id = arm_due(rec, queue="critical")
    before = datetime.now(UTC)
    rec.apply(None, move=rec.due())
    job_id = rq_job_id(execution_id)
    assert not rec.is_armed(job_id)
    queue = Queue("critical", connection=rec.connection, job_class=JsonJob)
    assert queue.job_ids == [job_id]
    assert queue in Queue.all(connection=rec.connection)
    job = JsonJob.fetch(job_id, connection=rec.connection)
    assert job.get_status() == JobStatus.QUEUED
    assert job.origin == "critical" and job.func_name == ENTRY_FUNC
    assert job.args == [str(execution_id)] and job.timeout == 90
    assert job.enqueued_at is not None
    enqueued = job.enqueued_at.replace(tzinfo=UTC)
    assert before - timedelta(milliseconds=1) <= enqueued <= datetime.now(UTC)


def test_a_burst_larger_than_one_script_call_moves_every_entry_to_its_queue(rec):
    when = datetime.now(UTC) - timedelta(seconds=1)
    arms = [Arm(uuid.uuid4(), when, ("a", "b")[i % 2], 60) for i in range(1201)]
    rec.apply(None, arm=arms)
    due = rec.due()
    assert len(due) == 1201
    rec.apply(None, move=due)
    assert rec.armed_count() == 0
    for name, count in (("a", 601), ("b", 600)):
        queue = Queue(name, connection=rec.connection, job_class=JsonJob)
        assert queue.count == count
    statuses = {
        JsonJob.fetch(rq_job_id(a.execution_id), connection=rec.connection).get_status()
        for a in arms[::100]
    }
    assert statuses == {JobStatus.QUEUED}


def test_a_stale_leader_moves_nothing(rec):
    assert rec.claim_token(7)
    execution_id = arm_due(rec)
    due = rec.due()
    with pytest.raises(Fenced):
        rec.apply(6, move=due)
    assert rec.is_armed(rq_job_id(execution_id))
    assert Queue("default", connection=rec.connection).count == 0
