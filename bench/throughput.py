"""Throughput: noop executions fully recorded per second with 2 workers, against raw RQ.

    .venv/bin/python -m bench.throughput --runs 2000 --worker-class simple
    .venv/bin/python -m bench.throughput --runs 1000 --worker-class fork

Almanac: N executions queued (as Run now does), then 2 workers start; the clock
stops when the last one is recorded ``success`` in PostgreSQL. Raw RQ: N noop
jobs enqueued on another Redis database, 2 ``rq worker --burst`` of the same
class; the clock stops when both have drained the queue. Both include start-up.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from redis import Redis
from rq import Queue
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
    insert_jobs,
    start,
    stop,
    wait,
)


def almanac(runs: int, worker_class: str, tmp: Path) -> float:
    with bench_database() as url:
        app = bench_app(url)
        with app.app_context():
            now = utcnow()
            insert_jobs(1, every=86400, anchor_of=lambda _i: now.replace(year=now.year + 1))
            job_id = db.session.scalar(select(ScheduledJob.id))
            ids = [uuid.uuid4() for _ in range(runs)]
            db.session.execute(
                insert(Execution),
                [
                    {
                        "id": i,
                        "job_id": job_id,
                        "status": "queued",
                        "triggered_by": "api",
                        "scheduled_for": now,
                        "queued_at": now,
                    }
                    for i in ids
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
            began = time.perf_counter()
            worker = start("worker.py", env, tmp / "worker.log")

            def recorded() -> bool:
                db.session.rollback()
                count = db.session.scalar(select(func.count()).where(Execution.status == "success"))
                return (count or 0) >= runs

            try:
                done = wait(recorded, 600, 0.2)
                elapsed = time.perf_counter() - began
            finally:
                stop(worker)
                db.session.remove()
                db.engine.dispose()
    if not done:
        raise SystemExit("Almanac did not finish the runs in 600 s")
    return elapsed


def raw_rq(runs: int, worker_class: str, tmp: Path) -> float:
    flush(RAW_REDIS_URL)
    queue = Queue("raw", connection=Redis.from_url(RAW_REDIS_URL))
    with queue.connection.pipeline() as pipe:
        for _ in range(runs):
            queue.enqueue("bench.rawtask.noop", pipeline=pipe, result_ttl=0)
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
    began = time.perf_counter()
    workers = [
        subprocess.Popen(
            command, cwd=ROOT, stdout=(tmp / f"raw{n}.log").open("wb"), stderr=subprocess.STDOUT
        )
        for n in range(2)
    ]
    for worker in workers:
        worker.wait(600)
    elapsed = time.perf_counter() - began
    flush(RAW_REDIS_URL)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--worker-class", choices=("simple", "fork"), default="simple")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    ours = almanac(args.runs, args.worker_class, tmp)
    raw = raw_rq(args.runs, args.worker_class, tmp)
    print(f"{args.runs} noop runs, 2 x {args.worker_class} workers")
    print(f"  Almanac (recorded in PostgreSQL): {ours:.1f} s = {args.runs / ours:.0f} runs/s")
    print(f"  raw RQ:                            {raw:.1f} s = {args.runs / raw:.0f} jobs/s")
    print(f"  Almanac / raw RQ: {100 * raw / ours:.0f} %")


if __name__ == "__main__":
    main()
