"""The retry process killed mid-drain: every item launched exactly once, dead claims handed back."""

from __future__ import annotations

import os
import signal
import time

from sqlalchemy import func, select

from app.extensions import db
from app.models import Execution, RetryItem, SchedulerInstance, utcnow
from tests.conftest import add_due_retries
from tests.engine import wait_for

ITEMS, BATCH = 120, 25


def _count(*where):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(RetryItem).where(*where))


def _freeze_holding_a_claim(pid, logs) -> int:
    """Stop the process (SIGSTOP) at a moment it holds claimed items; return how many.

    A batch stays claimed only while it is launched (tens of milliseconds), so
    seeing it and then killing could land just after the launch; stopping the
    process first and counting again makes the moment certain.
    """
    deadline = time.monotonic() + 20
    while True:
        assert time.monotonic() < deadline, logs()
        if _count(RetryItem.status == "claimed"):
            os.kill(pid, signal.SIGSTOP)
            held = _count(RetryItem.status == "claimed")
            if held:
                return held
            os.kill(pid, signal.SIGCONT)
        assert _count(RetryItem.status == "pending"), "drained before it could be killed"


def test_retry_process_killed_mid_drain(engine, make_job, editor, record):
    jobs = [
        make_job(editor, name=f"drain {n}", retry_count=1, schedule_config={"hours": 1})
        for n in range(ITEMS)
    ]
    first = engine.retry(RETRY_BATCH_SIZE=str(BATCH))
    wait_for(
        lambda: db.session.scalar(
            select(func.count()).where(
                SchedulerInstance.role == "retry", SchedulerInstance.stopped_at.is_(None)
            )
        ),
        20,
        engine.logs,
    )
    add_due_retries(jobs, utcnow())
    # Kill it while it holds a claimed batch it has not launched yet.
    held = _freeze_holding_a_claim(first.pid, engine.logs)
    os.kill(first.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    assert _count(RetryItem.status == "claimed") == held
    assert 0 < held <= BATCH  # one batch at most, never the whole backlog
    engine.retry(RETRY_BATCH_SIZE=str(BATCH))
    wait_for(lambda: _count(RetryItem.status == "done") == ITEMS, 40, engine.logs)
    recovered = round(time.monotonic() - killed_at, 1)
    engine.stop_all()
    db.session.rollback()
    attempts = db.session.scalars(select(Execution.retry_of).where(Execution.attempt == 2)).all()
    duplicates = len(attempts) - len(set(attempts))
    lost = ITEMS - len(set(attempts))
    record(
        "retry process kill -9 mid-drain",
        recovery=recovered,
        duplicates=duplicates,
        lost=lost,
        stuck=_count(RetryItem.status != "done"),
        held=held,
    )
    assert (duplicates, lost) == (0, 0)
