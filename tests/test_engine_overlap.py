"""The overlap rule for real: a busy pool, a catch-up after an outage, a burst of retries."""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Execution, RetryItem
from tests.engine import wait_for
from tests.test_engine import create, rows, successes
from tests.test_retry_engine import ALWAYS_FAILS, run_now

pytestmark = pytest.mark.slow
SLOW = {"taskFunction": "sleep", "taskArgs": {"seconds": 2}, "scheduleConfig": {"seconds": 1}}


def one_after_another(runs):
    """Each run started after the one before it (in start order) ended."""
    ordered = sorted(runs, key=lambda r: r.started_at)
    return all(b.started_at >= a.completed_at for a, b in itertools.pairwise(ordered))


def counts_something(reason):
    """A skip reason that names a run it counted (not "0 run(s) still in progress")."""
    return re.search(r"\b[1-9]\d* (running|queued|held ahead of it)", reason) is not None


def test_a_busy_pool_does_not_pile_up_runs(engine, api_as, editor):
    engine.scheduler()
    engine.worker(WORKER_CONCURRENCY="1")
    api = api_as(editor)
    policies = {"skip": 0, "queue": 1}  # runs that may wait beyond max_instances
    ids = {policy: create(api, name=policy, overlapPolicy=policy, **SLOW) for policy in policies}
    wait_for(lambda: all(successes(i) for i in ids.values()), 25, engine.logs)
    worst: Counter[tuple[str, str]] = Counter()
    for _ in range(25):  # about 5 s of a pool that is always busy
        db.session.rollback()
        for policy, job_id in ids.items():
            states = Counter("held" if r.held else r.status for r in rows(job_id))
            active = states["queued"] + states["running"]
            worst["active", policy] = max(worst["active", policy], active)
            worst["held", policy] = max(worst["held", policy], states["held"])
        time.sleep(0.2)
    for policy, waiting in policies.items():
        assert worst["active", policy] <= 1, worst
        assert worst["held", policy] <= waiting, worst
    skipped = rows(ids["skip"], status="skipped")
    assert skipped and all(counts_something(r.reason) for r in skipped)


def test_run_all_catch_up_and_the_slots_after_it_run_one_after_another(engine, api_as, editor):
    scheduler = engine.scheduler()
    engine.worker()
    job_id = create(
        api_as(editor),
        taskFunction="sleep",
        taskArgs={"seconds": 0.3},
        scheduleConfig={"seconds": 2},
        misfirePolicy="run_all",
        misfireGraceSeconds=2,
    )
    # A slow start (coverage in every process) must not already count as a misfire.
    wait_for(lambda: len(successes(job_id)) >= 2, 30, engine.logs)
    engine.stop(scheduler)
    time.sleep(7)
    engine.scheduler()

    def line():
        """The catch-up runs, and the slots that joined their line."""
        return [r for r in rows(job_id) if "catch-up run" in (r.reason or "")]

    def settled():
        waiting = line()
        after = [r for r in rows(job_id) if waiting and r.scheduled_for > waiting[-1].scheduled_for]
        return (
            len(waiting) >= 3
            and {r.status for r in waiting} == {"success"}
            and any(r.status in ("success", "skipped") for r in after)
        )

    wait_for(settled, 30, lambda: _ledger(job_id))
    done = [r for r in rows(job_id) if r.status not in ("pending", "queued", "running")]
    assert all(counts_something(r.reason) for r in done if r.status == "skipped"), _ledger(job_id)
    ran = [r for r in done if r.status == "success"]
    assert one_after_another(ran), _ledger(job_id)
    assert [r.scheduled_for for r in sorted(ran, key=lambda r: r.started_at)] == sorted(
        r.scheduled_for for r in ran
    )  # in slot order


def _ledger(job_id):
    return "\n".join(
        f"{r.scheduled_for.time()} created {r.created_at.time()} "
        f"started {r.started_at and r.started_at.time()} {r.status} {(r.reason or '')[:100]}"
        for r in rows(job_id)
    )


def test_a_burst_of_failures_gets_every_retry_one_after_another(engine, api_as, editor):
    engine.worker()
    engine.retry()
    api = api_as(editor)
    job_id = create(api, retryCount=1, retryDelaySeconds=1, maxInstances=1, **ALWAYS_FAILS)
    for _ in range(8):  # manual runs are not limited: eight failures at once
        run_now(api, job_id)

    def dead():
        return db.session.scalars(
            select(RetryItem).where(RetryItem.job_id == job_id, RetryItem.status == "dead")
        ).all()

    wait_for(lambda: len(dead()) == 8, 30, engine.logs)
    attempts = rows(job_id, triggered_by="retry")
    assert len(attempts) == 8 and {r.status for r in attempts} == {"failed"}
    assert one_after_another(attempts)
    assert not rows(job_id, status="skipped")
    assert all(item.execution.triggered_by == "retry" for item in dead())
    assert db.session.scalar(select(Execution.id).where(Execution.reason.like("skipped%"))) is None
