"""The forking worker claims and records a run itself; its horse only runs the task.

Real forks on the suite's database, as `test_fork.py` does: the worker side
claims before the fork, the horse runs ``run_execution`` (which must not
open a database connection for a task that needs none), the worker records.
"""

from __future__ import annotations

import os

from sqlalchemy import event, select

from app import entrypoints
from app.extensions import db
from app.models import Execution, RetryItem, utcnow


def _queued(job):
    now = utcnow()
    row = Execution(job=job, status="queued", scheduled_for=now, triggered_by="api")
    db.session.add(row)
    db.session.commit()
    return row.id


def _horse(ident, *, die=False):
    """Fork a horse that runs the entry point (or dies first); its exit code."""
    db.session.remove()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which coverage does not follow
        code = 1
        try:
            db.engine.dispose(close=False)  # as the worker's fork hook does
            connects = []
            event.listen(db.engine, "connect", lambda *_a: connects.append(1))
            if die:
                os._exit(9)
            entrypoints.run_execution(str(ident))
            code = 0 if not connects else 3
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _row(ident):
    db.session.expire_all()
    return db.session.get(Execution, ident)


def test_the_worker_claims_and_records_and_the_horse_needs_no_connection(app, editor, make_job):
    ident = _queued(make_job(editor, task_function="noop"))
    handoff = entrypoints.claim_before_fork(ident, None)
    assert handoff.claimed is not None
    assert _row(ident).status == "running"
    assert _horse(ident) == 0  # 3: the horse opened a database connection
    assert _row(ident).status == "running"  # the horse records nothing itself
    entrypoints.record_after_horse(handoff)
    row = _row(ident)
    assert row.status == "success" and row.completed_at is not None
    assert entrypoints._handoff is None


def test_a_horse_that_dies_is_recorded_lost_and_retried(app, editor, make_job):
    job = make_job(editor, task_function="noop", retry_count=2, retry_delay_seconds=10)
    ident = _queued(job)
    handoff = entrypoints.claim_before_fork(ident, None)
    assert _horse(ident, die=True) == 9
    assert entrypoints.horse_died(ident, "worker lost: work horse 1 died (status 9)")
    entrypoints.record_after_horse(handoff)
    row = _row(ident)
    assert row.status == "failed" and row.error_message.startswith("worker lost: work horse")
    item = db.session.scalar(select(RetryItem).where(RetryItem.execution_id == ident))
    assert item is not None and item.status == "pending" and item.abandoned == 1


def test_a_run_that_may_not_start_is_left_alone(app, editor, make_job):
    ident = _queued(make_job(editor, task_function="noop"))
    first = entrypoints.claim_before_fork(ident, None)
    entrypoints.record_after_horse(first)  # nothing reported: recorded lost
    second = entrypoints.claim_before_fork(ident, None)  # RQ delivered it twice
    assert second.claimed is None
    assert _horse(ident) == 0
    entrypoints.record_after_horse(second)
    assert _row(ident).status == "failed"  # the first closing stands, nothing else
