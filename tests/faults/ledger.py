"""A load to put a fault under, and what the ledger says afterwards: duplicates, lost, stuck."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, make_url, select, text

from app.extensions import db
from app.models import Execution, utcnow


def executions() -> list[Execution]:
    db.session.rollback()
    db.session.expire_all()
    return list(db.session.scalars(select(Execution).order_by(Execution.scheduled_for)))


def duplicates(rows: list[Execution]) -> int:
    """Slots run more than once: scheduler rows sharing (job, slot) and started twice."""
    per_slot = Counter(
        (r.job_id, r.scheduled_for, r.attempt) for r in rows if r.started_at is not None
    )
    return sum(n - 1 for n in per_slot.values() if n > 1)


def stuck(rows: list[Execution], now: datetime, after: float = 10) -> int:
    """Runs still queued or running ``after`` seconds past their slot."""
    limit = now - timedelta(seconds=after)
    return sum(1 for r in rows if r.status in ("queued", "running") and r.scheduled_for < limit)


def lost(rows: list[Execution], every: timedelta) -> int:
    """Slots of each interval job that have no row at all, plus runs failed by the fault."""
    gaps = 0
    for _, group in itertools.groupby(
        sorted((r for r in rows if r.triggered_by == "scheduler"), key=lambda r: r.job_id),
        key=lambda r: r.job_id,
    ):
        slots = sorted({r.scheduled_for for r in group})
        gaps += sum(round((b - a) / every) - 1 for a, b in itertools.pairwise(slots))
    failed = sum(1 for r in rows if r.status == "failed")
    return gaps + failed


def database_outage(database_url: str, seconds: float) -> int:
    """Kill every other connection to the test database and refuse new ones for ``seconds``.

    What a restart of the server looks like to Almanac, confined to the
    test's own database (the cluster is shared). Returns how many died.
    """
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = url.database
    try:
        with admin.connect() as connection:
            if seconds:
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            killed = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            ).all()
            if seconds:
                time.sleep(seconds)
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            return len(killed)
    finally:
        admin.dispose()


JOBS = 4
EVERY = 2  # seconds: a load two workers keep up with on a busy machine


def load(api: Any, httpserver: Any, jobs: int = JOBS) -> list[uuid.UUID]:
    """``jobs`` interval jobs that each call the test's HTTP server every ``EVERY`` seconds.

    Each request is one run, so the server's log counts runs that really happened.
    """
    from tests.test_engine import create

    httpserver.expect_request("/hit").respond_with_data("ok")
    url = httpserver.url_for("/hit")
    return [
        create(
            api,
            name=f"hit {n}",
            taskFunction="http_request",
            scheduleConfig={"seconds": EVERY},
            taskArgs={"url": url},
        )
        for n in range(jobs)
    ]


def succeeded(since: datetime | None = None) -> list[Execution]:
    return [
        r for r in executions() if r.status == "success" and (since is None or r.started_at > since)
    ]


def pending_work() -> list[tuple[str, str]]:
    return [
        (r.status, str(r.scheduled_for.time()))
        for r in executions()
        if r.status in ("queued", "running")
    ]


def recovery(ids: list[uuid.UUID], since: datetime, timeout: float, logs: Any) -> float:
    """Seconds from ``since`` until every job has run successfully again."""
    from tests.engine import wait_for

    wait_for(lambda: {r.job_id for r in succeeded(since)} >= set(ids), timeout, logs)
    firsts = [min(r.started_at for r in succeeded(since) if r.job_id == i) for i in ids]
    return round((max(firsts) - since).total_seconds(), 1)


def settle(
    engine: Any, api: Any, ids: list[uuid.UUID], httpserver: Any, since: datetime
) -> dict[str, Any]:
    """Measure recovery from ``since``, run on a little, pause, drain, stop; the figures."""
    from tests.engine import wait_for

    recovered = recovery(ids, since, 30, engine.logs)
    time.sleep(3)  # some load after the recovery
    for job_id in ids:
        assert api.post(f"/jobs/{job_id}/action", {"action": "pause"}).status_code == 200
    wait_for(lambda: not pending_work(), 30, lambda: (pending_work(), engine.logs()))
    engine.stop_all()
    rows = executions()
    ran = [r for r in rows if r.started_at is not None]
    return {
        "recovery": recovered,
        "duplicates": duplicates(rows) + max(len(httpserver.log) - len(ran), 0),
        "lost": lost(rows, timedelta(seconds=EVERY)) + max(len(ran) - len(httpserver.log), 0),
        "stuck": stuck(rows, utcnow()),
    }
