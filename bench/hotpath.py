"""Profile of the worker's hot path: claim, run and record noop executions in-process.

    .venv/bin/python -m bench.hotpath --runs 500 [--fork] [--top 25] [--sort tottime] [--no-profile]

Calls ``app.entrypoints.run_execution`` for N queued executions of one job on
a throwaway PostgreSQL database under cProfile, and counts the SQL statements
each run sends. ``--fork`` runs each execution in a forked child, as RQ's
forking worker does, so the horse's connection cost shows.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
import uuid

from sqlalchemy import event, insert, select

from app import entrypoints
from app.engine import pings
from app.extensions import db
from app.models import Execution, ScheduledJob, utcnow
from bench.common import bench_app, bench_database, insert_jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--fork", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", help="pstats order, e.g. tottime")
    parser.add_argument("--show-sql", action="store_true", help="print the statements sent")
    parser.add_argument(
        "--no-profile", action="store_true", help="time only (cProfile slows Python ~2x)"
    )
    args = parser.parse_args()
    with bench_database() as url:
        # Built as worker.py builds it: no pre-ping on every checkout, only after idling.
        app = bench_app(url, SQLALCHEMY_ENGINE_OPTIONS=pings.WORKER_ENGINE_OPTIONS)
        with app.app_context():
            pings.ping_when_idle(db.engine)
            now = utcnow()
            insert_jobs(1, every=86400, anchor_of=lambda _i: now.replace(year=now.year + 1))
            job_id = db.session.scalar(select(ScheduledJob.id))
            ids = [uuid.uuid4() for _ in range(args.runs)]
            rows = [
                {
                    "id": i,
                    "job_id": job_id,
                    "status": "queued",
                    "triggered_by": "api",
                    "scheduled_for": now,
                    "queued_at": now,
                }
                for i in ids
            ]
            db.session.execute(insert(Execution), rows)
            db.session.commit()
            db.session.remove()
            statements = 0

            def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
                nonlocal statements
                statements += 1
                if args.show_sql:
                    print("SQL:", " ".join(statement.split())[:160])

            event.listen(db.engine, "before_cursor_execute", count)
            profile = cProfile.Profile()
            began = time.perf_counter()
            if not args.no_profile:
                profile.enable()
            for i in ids:
                if args.fork:
                    _in_child(i)
                else:
                    entrypoints.run_execution(str(i))
            profile.disable()
            elapsed = time.perf_counter() - began
            db.session.remove()
            db.engine.dispose()
    per_run = statements / args.runs if not args.fork else float("nan")
    print(f"{args.runs} runs in {elapsed:.2f} s: {1000 * elapsed / args.runs:.1f} ms per run")
    print(f"SQL statements per run (in-process only): {per_run:.1f}")
    if not args.no_profile:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


def _in_child(execution_id: uuid.UUID) -> None:
    db.session.remove()
    engine = db.engine
    pid = os.fork()
    if pid == 0:
        engine.dispose(close=False)
        code = 0
        try:
            entrypoints.run_execution(str(execution_id))
        except BaseException:
            code = 1
        os._exit(code)
    os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
