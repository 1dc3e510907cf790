"""Retry drain: 10,000 due retry items drained by 1 and by 2 retry processes.

    .venv/bin/python -m bench.retries --items 10000 --processes 1 2

For each process count, a fresh PostgreSQL database gets N failed executions
of N jobs with one due retry item each; then that many ``retry.py`` processes
start. The rate is items done over the span from the first claim to the last item
marked done (start-up excluded; each launch is the new Execution row, the
item's update and the RQ enqueue). Double claims are counted three ways: new
attempts per failed execution (must be exactly one), items not ``done``, and
the processes' own "claimed" totals, which must add up to N.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import Execution, RetryItem, ScheduledJob, utcnow
from bench.common import REDIS_URL, bench_app, bench_database, flush, insert_jobs, start, stop, wait


def seed(items: int) -> None:
    """N failed runs of N jobs, each with a retry item due now (inside an app context).

    One item per job: a job's retries take turns (its next one is launched
    only after the one before, within max_instances), so items of one job
    would drain one per pass whatever the processes do.
    """
    now = utcnow()
    insert_jobs(items, every=86400, anchor_of=lambda _i: now.replace(year=now.year + 1))
    job_ids = list(db.session.scalars(select(ScheduledJob.id)))
    failed = [(uuid.uuid4(), job_id) for job_id in job_ids]
    common = {"scheduled_for": now, "created_at": now}
    db.session.execute(
        insert(Execution),
        [
            {"id": i, "job_id": job, "status": "failed", "triggered_by": "manual", **common}
            for i, job in failed
        ],
    )
    db.session.execute(
        insert(RetryItem),
        [
            {
                "id": uuid.uuid4(),
                "execution_id": i,
                "job_id": job,
                "attempt": 2,
                "next_try_at": now,
                "status": "pending",
                "abandoned": 0,
                "created_at": now,
                "updated_at": now,
            }
            for i, job in failed
        ],
    )
    db.session.commit()


def drain(items: int, processes: int, batch: int, tmp: Path) -> dict[str, float]:
    """Seed, start the retry processes, wait for the last item; return the figures."""
    with bench_database() as url:
        app = bench_app(url)
        flush(REDIS_URL)
        with app.app_context():
            seed(items)
        log = tmp / f"retry-{processes}.log"
        env = {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "bench",
            "RETRY_POLL_SECONDS": "0.1",
            "RETRY_BATCH_SIZE": str(batch),
        }
        procs = [start("retry.py", env, log) for _ in range(processes)]
        with app.app_context():
            done = select(func.count()).where(RetryItem.status == "done")

            def finished() -> bool:
                db.session.rollback()
                return (db.session.scalar(done) or 0) >= items

            wait(finished, 600, step=0.2)
            stop(*procs)
            return figures(items, log)


def figures(items: int, log: Path) -> dict[str, float]:
    """Rate and the double-claim checks, from the database and the processes' logs."""
    first = db.session.scalar(select(func.min(RetryItem.claimed_at)))
    last = db.session.scalar(select(func.max(RetryItem.updated_at)))
    attempts = db.session.execute(
        select(Execution.retry_of, func.count())
        .where(Execution.triggered_by == "retry")
        .group_by(Execution.retry_of)
    ).all()
    claimers = db.session.execute(
        select(RetryItem.claimed_by, func.count()).group_by(RetryItem.claimed_by)
    ).all()
    claimed = sum(int(n) for n in re.findall(r"claimed (\d+)", log.read_text()))
    span = (last - first).total_seconds() if first and last else float("nan")
    return {
        "span_s": span,
        "rows_per_s": items / span if span else float("nan"),
        "items_done": db.session.scalar(select(func.count()).where(RetryItem.status == "done"))
        or 0,
        "attempts": len(attempts),
        "failures_retried_twice": sum(1 for _, n in attempts if n > 1),
        "claimed_in_logs": claimed,
        "double_claims": claimed - items,
        "claimers": len(claimers),
    }


def main() -> None:
    """Run each process count and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=200, help="RETRY_BATCH_SIZE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.processes:
            started = time.monotonic()
            result = drain(args.items, count, args.batch, Path(tmp))
            print(f"{args.items} items, {count} retry process(es), batch {args.batch}:")
            for key, value in result.items():
                print(
                    f"  {key:<24} {value:.3f}"
                    if isinstance(value, float)
                    else f"  {key:<24} {value}"
                )
            print(f"  wall (incl. set-up)      {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
