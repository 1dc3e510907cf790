"""What the ledger says after a fault: duplicates, stuck runs, slots lost."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import create_engine, make_url, select, text

from app.extensions import db
from app.models import Execution


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
