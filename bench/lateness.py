"""Fire lateness on PostgreSQL with 2 workers and 10,000 enabled jobs, against raw rq-scheduler.

    .venv/bin/python -m bench.lateness --mode spread --due 100 # 100 fires spread over 60 s
    .venv/bin/python -m bench.lateness --mode burst --due 1000 # 1,000 due in the same second
    .venv/bin/python -m bench.lateness --mode burst --due 10000

Reports enqueued - scheduled_for (RQ's own enqueue time) and started - scheduled_for
for Almanac, and enqueued - scheduled for raw rq-scheduler moving the same instants
at the same poll interval on the same Redis server, plus how many were early.
Both are read from RQ's own ``enqueued_at`` of each job. The halves alternate
``--repeat`` times (each stops every process it started before the next
begins); the summary gives each percentile's median over the runs with min
and max.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis import Redis
from rq.job import Job
from rq_scheduler import Scheduler
from sqlalchemy import func, select

from app.extensions import db
from app.models import Execution, utcnow
from bench.common import (
    RAW_REDIS_URL,
    REDIS_URL,
    bench_app,
    bench_database,
    flush,
    gone,
    insert_jobs,
    percentiles,
    show,
    spread,
    start,
    uptime,
    wait,
    whole_second,
)

FAR = timedelta(hours=6)


def instants(mode: str, jobs: int, due: int, spread: int, t0: datetime) -> list[datetime | None]:
    """Each job's first slot inside the window (None: not due in the window)."""
    if mode == "spread":
        step = spread / due
        return [t0 + timedelta(seconds=int(i * step)) if i < due else None for i in range(jobs)]
    return [t0 if i < due else None for i in range(jobs)]


def run_almanac(args: argparse.Namespace, url: str, tmp: Path) -> dict[str, dict[str, float]]:
    app = bench_app(url)
    with app.app_context():
        t0 = whole_second(utcnow(), 45)  # arming 10,000 jobs takes a few seconds first
        firsts = instants(args.mode, args.jobs, args.due, args.spread, t0)
        every = 3600
        insert_jobs(args.jobs, every=every, anchor_of=lambda i: firsts[i] or t0 + FAR)
        db.session.remove()
    flush(REDIS_URL)
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench",
        "SCHEDULER_POLL_SECONDS": str(args.poll),
        "WORKER_CONCURRENCY": "2",
        "WORKER_CLASS": args.worker_class,
    }
    processes = [start("scheduler.py", env, tmp / "s.log"), start("worker.py", env, tmp / "w.log")]
    window_end = t0 + timedelta(seconds=args.spread if args.mode == "spread" else 1)
    expected = sum(1 for f in firsts if f is not None)
    try:
        with app.app_context():

            def finished() -> bool:
                db.session.rollback()
                done = db.session.scalar(
                    select(func.count()).where(
                        Execution.scheduled_for >= t0,
                        Execution.scheduled_for < window_end,
                        Execution.status == "success",
                    )
                )
                return (done or 0) >= expected

            deadline = (window_end - utcnow()).total_seconds() + args.drain
            completed = wait(finished, deadline, 1.0)
            rows = db.session.execute(
                select(Execution.scheduled_for, Execution.queued_at, Execution.started_at).where(
                    Execution.scheduled_for >= t0, Execution.scheduled_for < window_end
                )
            ).all()
    finally:
        gone(*processes)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        flush(REDIS_URL)
    enqueued = [(q - s).total_seconds() for s, q, _ in rows if q]
    started = [(b - s).total_seconds() for s, _, b in rows if b]
    print(
        f"Almanac: {len(rows)} slots of {expected} expected "
        f"({'all ran' if completed else 'NOT all ran before the deadline'})"
    )
    show("  Almanac enqueued - scheduled_for", percentiles(enqueued))
    show("  Almanac started - scheduled_for", percentiles(started))
    early = sum(1 for v in enqueued if v < 0) + sum(1 for v in started if v < 0)
    print(f"  Almanac early (enqueued or started before scheduled_for): {early}")
    return {
        "Almanac enqueued - scheduled_for": percentiles(enqueued),
        "Almanac started - scheduled_for": percentiles(started),
        "Almanac early": {"n": 1, "early": early},
    }


def run_raw(args: argparse.Namespace, tmp: Path) -> dict[str, dict[str, float]]:
    """rq-scheduler alone: enqueue_at the same instants, its own loop at the same interval."""
    flush(RAW_REDIS_URL)
    connection = Redis.from_url(RAW_REDIS_URL)
    scheduler = Scheduler(connection=connection)
    t0 = whole_second(datetime.now(UTC), 20)
    firsts = instants(args.mode, args.jobs, args.due, args.spread, t0)
    ids = []
    for i, first in enumerate(firsts):
        job = scheduler.enqueue_at(first or t0 + FAR, "bench.rawtask.noop", job_id=f"raw-{i}")
        if first is not None:
            ids.append((job.id, first))
    code = (
        "import sys; from redis import Redis; from rq_scheduler import Scheduler;"
        f"Scheduler(connection=Redis.from_url({RAW_REDIS_URL!r}), interval={args.poll}).run()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=(tmp / "raw.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    window_end = t0 + timedelta(seconds=args.spread if args.mode == "spread" else 1)
    try:
        time.sleep(max((window_end - datetime.now(UTC)).total_seconds(), 0) + 5)
        wait(lambda: scheduler.count(until=window_end) == 0, args.drain, 0.5)
    finally:
        gone(process)
    lateness = []
    jobs = Job.fetch_many([job_id for job_id, _ in ids], connection=connection)
    for job, (_, first) in zip(jobs, ids, strict=True):
        if job is not None and job.enqueued_at is not None:  # a vanished hash: not moved
            lateness.append((job.enqueued_at.replace(tzinfo=UTC) - first).total_seconds())
    show("  raw rq-scheduler enqueued - scheduled", percentiles(lateness))
    print(
        f"  raw rq-scheduler early: {sum(1 for v in lateness if v < 0)} "
        f"(not moved: {len(ids) - len(lateness)})"
    )
    flush(RAW_REDIS_URL)
    return {
        "raw rq-scheduler enqueued - scheduled": percentiles(lateness),
        "raw rq-scheduler early": {"n": 1, "early": sum(1 for v in lateness if v < 0)},
    }


def summarise(results: list[dict[str, dict[str, float]]]) -> None:
    """Each figure's median over the runs, with min and max."""
    print(f"median [min..max] over {len(results)} runs:")
    for label in results[0]:
        keys = [k for k in results[0][label] if k != "n"]
        for key in keys:
            values = [r[label][key] for r in results if key in r[label]]
            print(f"  {label:<40} {key:<5} {spread(values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("spread", "burst"), default="spread")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=100, help="jobs due in the window")
    parser.add_argument("--spread", type=int, default=60, help="spread: seconds the fires span")
    parser.add_argument("--poll", type=float, default=0.1)
    parser.add_argument("--worker-class", choices=("fork", "simple"), default="simple")
    parser.add_argument("--drain", type=float, default=300, help="seconds allowed to finish")
    parser.add_argument("--repeat", type=int, default=3, help="alternating Almanac/raw runs")
    args = parser.parse_args()
    print(
        f"mode={args.mode} jobs={args.jobs} due={args.due if args.mode == 'burst' else '-'} "
        f"poll={args.poll}s workers=2x{args.worker_class}"
    )
    tmp = Path(tempfile.mkdtemp())
    ours: list[dict[str, dict[str, float]]] = []
    raw: list[dict[str, dict[str, float]]] = []
    for n in range(args.repeat):
        print(f"run {n + 1}: {uptime()}", flush=True)
        with bench_database() as url:
            ours.append(run_almanac(args, url, tmp))
        raw.append(run_raw(args, tmp))
    summarise(ours)
    summarise(raw)
    p99 = statistics.median(r["Almanac enqueued - scheduled_for"].get("p99", 0) for r in ours)
    print(f"Almanac enqueued p99, median of runs: {p99:.3f} s; after: {uptime()}")


if __name__ == "__main__":
    main()
