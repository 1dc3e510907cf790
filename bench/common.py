"""Shared helpers for the benchmarks: a throwaway database, bulk jobs, processes, percentiles."""

from __future__ import annotations

import os
import resource
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from redis import Redis
from sqlalchemy import create_engine, insert, make_url, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import JobType, ScheduledJob, TaskFunction, User, utcnow  # noqa: E402
from app.services.scheduling import catalog  # noqa: E402
from app.services.users import accounts  # noqa: E402

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
RAW_REDIS_URL = os.environ.get("BENCH_RAW_REDIS_URL", "redis://127.0.0.1:6379/10")


@contextmanager
def bench_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one benchmark run, dropped afterwards."""
    url = make_url(PG_URL)
    name = f"almanac_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_app(database_url: str, **config: Any) -> Flask:
    """An app on the bench database and Redis, with the schema and catalog in place."""
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": "bench"}
        | config
    )
    with app.app_context():
        db.create_all()
        catalog.ensure_catalog(db.session)
        if db.session.scalar(select(User.id)) is None:
            accounts.create_user(db.session, "bench@example.com", "bench-password", "admin")
        db.session.commit()
    return app


def insert_jobs(
    count: int,
    *,
    every: int,
    anchor_of: Any,
    task: str = "noop",
    misfire_grace: int = 3600,
    max_instances: int = 1000,
) -> None:
    """Bulk-insert ``count`` interval jobs (inside an app context): anchor_of(i) -> datetime."""
    owner = db.session.scalar(select(User.id))
    task_id = db.session.scalar(select(TaskFunction.id).where(TaskFunction.name == task))
    type_id = db.session.scalar(select(JobType.id).where(JobType.name == "interval"))
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "name": f"bench {i}",
            "task_function_id": task_id,
            "job_type_id": type_id,
            "schedule_config": {"seconds": every},
            "timezone": "UTC",
            "start_date": anchor_of(i),
            "task_args": {},
            "misfire_grace_seconds": misfire_grace,
            "max_instances": max_instances,
            "owner_id": owner,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    for start in range(0, count, 5000):
        db.session.execute(insert(ScheduledJob), rows[start : start + 5000])
    db.session.commit()


def whole_second(moment: datetime, ahead: float) -> datetime:
    """The first whole second at least ``ahead`` seconds after ``moment``."""
    target = moment + timedelta(seconds=ahead)
    return target.replace(microsecond=0) + timedelta(seconds=1)


def start(script: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start scheduler.py or worker.py against the bench database and Redis."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / script)],
        cwd=ROOT,
        env=os.environ | env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(*processes: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process groups and wait; SIGKILL stragglers."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max (and count), in the values' unit."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else []

    def at(p: int) -> float:
        return cuts[p - 1] if cuts else ordered[0]

    return {"n": len(ordered), "p50": at(50), "p95": at(95), "p99": at(99), "max": ordered[-1]}


def show(label: str, stats: dict[str, float], unit: str = "s") -> None:
    """Print one line of figures."""
    if not stats.get("n"):
        print(f"{label:<46} (no data)")
        return
    figures = "  ".join(f"{k}={v:.3f}{unit}" for k, v in stats.items() if k != "n")
    print(f"{label:<46} n={int(stats['n']):<6} {figures}")


def rss_mb() -> float:
    """Peak resident memory of this process, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds used by a process (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks


def flush(url: str) -> None:
    """Empty one Redis database."""
    Redis.from_url(url).flushdb()


def wait(predicate: Any, timeout: float, step: float = 0.5) -> bool:
    """Poll until predicate() is true or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def uptime() -> str:
    """The machine's load averages now (the bench machines are shared)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def gone(*processes: subprocess.Popen[bytes]) -> None:
    """Stop the processes' groups and make sure nothing of them is left running.

    A half that leaves a worker or a work horse behind slows the next half
    down (two cores): every bench stops its processes before the other starts.
    """
    stop(*processes)
    for process in processes:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            continue
        os.killpg(process.pid, signal.SIGKILL)  # a horse outlived its worker
        time.sleep(0.5)


def spread(values: Sequence[float]) -> str:
    """Median of the runs with min and max: ``12.3 [11.0..14.1]``."""
    if not values:
        return "(no data)"
    return f"{statistics.median(values):.3f} [{min(values):.3f}..{max(values):.3f}]"
