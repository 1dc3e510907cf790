"""Throughput: noop executions fully recorded per second with 2 workers, against raw RQ.

    .venv/bin/python -m bench.throughput --runs 1000 --worker-class simple --repeat 3
    .venv/bin/python -m bench.throughput --runs 1000 --worker-class fork --repeat 3
    .venv/bin/python -m bench.throughput --runs 1000 --worker-class simple --jobs 100

Almanac: N executions queued (as Run now does), then 2 workers start and run
them, recorded in PostgreSQL. Raw RQ: N noop jobs enqueued on another Redis
database, drained by 2 ``rq worker --burst`` of the same class. Both halves
are timed the same way, from the jobs' own records: the first run's start to
the last run's end (Almanac: ``started_at``/``completed_at`` of the rows;
raw RQ: ``started_at``/``ended_at`` of the job hashes), so neither worker
start-up nor a slow process exit counts. The halves alternate ``--repeat``
times; each half stops every process it started before the next begins.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

from redis import Redis
from rq import Queue
from rq.utils import utcparse
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import Execution, ScheduledJob, utcnow
from app.queues import recurrence
from app.services.ledger.recurrence import Arm
from bench.common import (
    RAW_REDIS_URL,
    REDIS_URL,
    ROOT,
    bench_app,
    bench_database,
    flush,
    gone,
    insert_jobs,
    spread,
    start,
    uptime,
    wait,
)


def almanac(runs: int, worker_class: str, tmp: Path, jobs: int = 1) -> float:
    """Seconds from the first run's start to the last run's recorded end.

    The runs belong to ``jobs`` jobs in turn: with one job every claim and record
    waits for that job's row lock, which raw RQ (no jobs, no ledger) never does."""
    with bench_database() as url:
        app = bench_app(url)
        with app.app_context():
            now = utcnow()
            insert_jobs(jobs, every=86400, anchor_of=lambda _i: now.replace(year=now.year + 1))
            job_ids = list(db.session.scalars(select(ScheduledJob.id)))
            ids = [uuid.uuid4() for _ in range(runs)]
            db.session.execute(
                insert(Execution),
                [
                    {
                        "id": i,
                        "job_id": job_ids[n % len(job_ids)],
                        "status": "queued",
                        "triggered_by": "api",
                        "scheduled_for": now,
                        "queued_at": now,
                    }
                    for n, i in enumerate(ids)
                ],
            )
            db.session.commit()
            flush(REDIS_URL)
            rec = recurrence()
            rec.apply(None, enqueue=[Arm(i, now, "default", 60) for i in ids])
            db.session.remove()
            env = {
                "DATABASE_URL": url,
                "REDIS_URL": REDIS_URL,
                "SECRET_KEY": "bench",
                "WORKER_CONCURRENCY": "2",
                "WORKER_CLASS": worker_class,
            }
            worker = start("worker.py", env, tmp / "worker.log")

            def recorded() -> bool:
                db.session.rollback()
                count = db.session.scalar(select(func.count()).where(Execution.status == "success"))
                return (count or 0) >= runs

            try:
                done = wait(recorded, 600, 0.2)
            finally:
                gone(worker)
            first, last = db.session.execute(
                select(func.min(Execution.started_at), func.max(Execution.completed_at))
            ).one()
            db.session.remove()
            db.engine.dispose()
        flush(REDIS_URL)
    if not done:
        raise SystemExit("Almanac did not finish the runs in 600 s")
    return float((last - first).total_seconds())


def raw_rq(runs: int, worker_class: str, tmp: Path) -> float:
    """Seconds from the first job's start to the last job's end, from RQ's own job hashes."""
    flush(RAW_REDIS_URL)
    connection = Redis.from_url(RAW_REDIS_URL)
    queue = Queue("raw", connection=connection)
    with connection.pipeline() as pipe:
        jobs = [
            queue.enqueue("bench.rawtask.noop", pipeline=pipe, result_ttl=3600) for _ in range(runs)
        ]
        pipe.execute()
    klass = "rq.worker.SimpleWorker" if worker_class == "simple" else "rq.worker.Worker"
    command = [
        str(Path(sys.executable).parent / "rq"),
        "worker",
        "--burst",
        "--url",
        RAW_REDIS_URL,
        "--worker-class",
        klass,
        "raw",
    ]
    workers = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=(tmp / f"raw{n}.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for n in range(2)
    ]
    try:
        # Done when every job finished, not when the burst workers exit (which can lag).
        done = wait(lambda: queue.finished_job_registry.count >= runs, 600, 0.2)
    finally:
        gone(*workers)
    with connection.pipeline() as pipe:
        for job in jobs:
            pipe.hmget(job.key, "started_at", "ended_at")
        times = pipe.execute()
    flush(RAW_REDIS_URL)
    if not done:
        raise SystemExit("raw RQ did not finish the jobs in 600 s")
    starts = [_when(s) for s, _ in times]
    ends = [_when(e) for _, e in times]
    return (max(ends) - min(starts)).total_seconds()


def _when(raw: bytes) -> datetime:
    return utcparse(raw.decode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--worker-class", choices=("simple", "fork"), default="simple")
    parser.add_argument("--repeat", type=int, default=3, help="alternating Almanac/raw pairs")
    parser.add_argument("--jobs", type=int, default=1, help="jobs the runs belong to, in turn")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    print(
        f"{args.runs} noop runs of {args.jobs} job(s), 2 x {args.worker_class} workers, "
        f"{args.repeat} pairs"
    )
    print(f"  before: {uptime()}")
    ours: list[float] = []
    raw: list[float] = []
    for n in range(args.repeat):
        ours.append(args.runs / almanac(args.runs, args.worker_class, tmp, args.jobs))
        raw.append(args.runs / raw_rq(args.runs, args.worker_class, tmp))
        print(
            f"  pair {n + 1}: Almanac {ours[-1]:.0f} runs/s, raw RQ {raw[-1]:.0f} jobs/s, "
            f"{100 * ours[-1] / raw[-1]:.0f} %  ({uptime()})",
            flush=True,
        )
    ratios = [100 * o / r for o, r in zip(ours, raw, strict=True)]
    print("  median [min..max] over the pairs:")
    print(f"  Almanac (recorded in PostgreSQL): {spread(ours)} runs/s")
    print(f"  raw RQ:                           {spread(raw)} jobs/s")
    print(f"  Almanac / raw RQ:                 {spread(ratios)} %")
    print(f"  median ratio: {statistics.median(ratios):.0f} %")
    print(f"  after: {uptime()}")


if __name__ == "__main__":
    main()
