"""Scale: arm 100,000 jobs from cold; scheduler memory; idle CPU with 10,000 jobs.

.venv/bin/python bench/scale.py [--jobs 100000] [--idle-jobs 10000] [--idle-seconds 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from app.engine.scheduler import carry_out
from app.extensions import db
from app.models import utcnow
from app.queues import recurrence
from app.services.ledger import reconcile
from bench.common import (
    REDIS_URL,
    bench_app,
    bench_database,
    cpu_seconds,
    flush,
    insert_jobs,
    rss_mb,
    start,
    stop,
    wait,
)


def cold_arm(jobs: int) -> None:
    """Reconcile from an empty Redis and an empty ledger, as a new leader would."""
    with bench_database() as url:
        app = bench_app(url)
        with app.app_context():
            now = utcnow()
            insert_jobs(
                jobs, every=3600, anchor_of=lambda i: now + timedelta(seconds=60 + i % 3600)
            )
            flush(REDIS_URL)
            rec = recurrence()
            began = time.perf_counter()
            plan, report = reconcile.reconcile(db.session, rec, utcnow(), None)
            db.session.commit()
            planned = time.perf_counter()
            carry_out(rec, plan, None)
            done = time.perf_counter()
            armed = len(rec.armed())
            print(
                f"cold arm of {jobs} jobs: {done - began:.1f} s "
                f"(database {planned - began:.1f} s, Redis {done - planned:.1f} s); "
                f"{armed} armed; {report.summary()}"
            )
            print(f"peak RSS of the reconciling process: {rss_mb():.0f} MB")
            db.session.remove()
            db.engine.dispose()


def idle(jobs: int, seconds: float) -> None:
    """A leading scheduler with every job armed far ahead: CPU and memory while idle."""
    with bench_database() as url:
        app = bench_app(url)
        with app.app_context():
            now = utcnow()
            insert_jobs(jobs, every=86400, anchor_of=lambda i: now + timedelta(hours=6))
            db.session.remove()
            db.engine.dispose()
        flush(REDIS_URL)
        log = Path(tempfile.mkdtemp()) / "scheduler.log"
        env = {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": "bench"}
        scheduler = start("scheduler.py", env, log)
        try:
            with app.app_context():
                rec = recurrence()
                armed = wait(lambda: len(rec.armed()) >= jobs, 120)
            time.sleep(3)
            before = cpu_seconds(scheduler.pid)
            time.sleep(seconds)
            used = cpu_seconds(scheduler.pid) - before
            rss = int(
                Path(f"/proc/{scheduler.pid}/status").read_text().split("VmHWM:")[1].split()[0]
            )
            print(
                f"idle scheduler with {jobs} jobs ({'all armed' if armed else 'NOT all armed'}): "
                f"{100 * used / seconds:.2f} % of a core over {seconds:.0f} s; "
                f"peak RSS {rss / 1024:.0f} MB"
            )
        finally:
            stop(scheduler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--idle-jobs", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=30)
    args = parser.parse_args()
    cold_arm(args.jobs)
    idle(args.idle_jobs, args.idle_seconds)


if __name__ == "__main__":
    main()
