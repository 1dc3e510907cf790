"""The calendar: server time per request for month, week, day and the JSON feed.

.venv/bin/python -m bench.calendar [--jobs 10000] [--executions 1000000] [--requests 20]
                                  [--keep NAME] [--profile LABEL]

Same data as ``bench.ui`` (bulk SQL on a throwaway PostgreSQL database: a quarter
cron jobs firing hourly, the rest interval jobs every 1 to 60 minutes, runs over
the last 30 days). Times the Flask view through the test client (no network),
signed in as an admin who sees every job; prints p50/p95 and the statements of one
request, against the issue's goals.

``--keep NAME`` seeds a database named ``almanac_bench_keep_NAME`` once and reuses it on
later runs (seeding a million runs takes minutes); runs stay "the last 30 days" of the
day it was seeded, so reseed (drop it) on another day. ``--profile LABEL`` prints a
cProfile of one request of that label instead of timing.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, make_url, select, text

from app.extensions import db
from app.models import Execution, ScheduledJob, utcnow
from bench.common import PG_URL, bench_app, bench_database, percentiles
from bench.ui import counted, populate, sign_in

GOALS_MS = {"month": 400.0, "week": 300.0, "day": 200.0, "feed (a month)": 400.0}


def targets() -> list[tuple[str, str]]:
    """(label, path) of every request timed; the feed asks for the month grid's six weeks."""
    today = utcnow().date()
    first = today.replace(day=1) - timedelta(days=today.replace(day=1).weekday() + 1)
    last = first + timedelta(days=42)
    return [
        ("month", "/calendar?zone=UTC"),
        ("week", "/calendar?view=week&zone=UTC"),
        ("day", "/calendar?view=day&zone=UTC"),
        ("feed (a month)", f"/api/v1/calendar?start={first}&end={last}&timeZone=UTC"),
        (
            "month, last month",
            f"/calendar?zone=UTC&date={today.replace(day=1) - timedelta(days=1)}",
        ),
        ("week, a week ago", f"/calendar?view=week&zone=UTC&date={today - timedelta(days=7)}"),
        ("month, one job searched", "/calendar?zone=UTC&q=job+000042"),
    ]


def measure(app: Flask, requests: int) -> list[tuple[str, dict[str, float], int, str]]:
    """Time each request ``requests`` times after one warm-up."""
    client = app.test_client()
    sign_in(client)
    results = []
    for label, path in targets():
        times: list[float] = []
        queries, mode = 0, ""
        for i in range(requests + 1):
            with counted(app) as statements:
                began = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - began) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{label}: GET {path} answered {response.status_code}")
            queries = len(statements)
            mode = _mode(response.data, response.headers)
            if i:
                times.append(elapsed)
        results.append((label, percentiles(times), queries, mode))
    return results


def _mode(body: bytes, headers: Any) -> str:
    """How the answer was made: listed per job, aggregated, and whether a cap cut it."""
    aggregated = b'class="cal-aggregated"' in body or "X-Almanac-Aggregated" in headers
    capped = b'class="cal-capped"' in body or "X-Almanac-Capped" in headers
    return ("aggregated" if aggregated else "per job") + (", capped" if capped else "")


@contextmanager
def kept_database(name: str) -> Iterator[tuple[str, bool]]:
    """(url, fresh) of a database kept between runs: created (fresh) when missing."""
    url = make_url(PG_URL)
    database = f"almanac_bench_keep_{name}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database})
        if not found:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    yield url.set(database=database).render_as_string(hide_password=False), not found


def profile(app: Flask, label: str) -> None:
    """cProfile one request (after a warm-up): the 30 most expensive functions."""
    path = dict(targets())[label]
    client = app.test_client()
    sign_in(client)
    client.get(path)
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(path)
    profiler.disable()
    pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(
        int(os.environ.get("TOP", "30"))
    )


def run(url: str, fresh: bool, args: argparse.Namespace) -> None:
    app = bench_app(url, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    with app.app_context():
        if fresh:
            populate(args.jobs, args.executions)
        else:
            for index in Execution.__table__.indexes:  # indexes added since it was seeded
                index.create(db.engine, checkfirst=True)
            jobs = db.session.scalar(select(text("count(*)")).select_from(ScheduledJob))
            runs = db.session.scalar(select(text("count(*)")).select_from(Execution))
            print(f"reusing {jobs} jobs and {runs} runs", flush=True)
        db.session.remove()
        # What autovacuum does soon after a bulk load: the visibility map that lets the run
        # counts read the (scheduled_for, status) index alone.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE executions"))
    if args.profile:
        profile(app, args.profile)
    else:
        report(measure(app, args.requests))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--keep", help="seed a database of this name once, reuse it later")
    parser.add_argument("--profile", help="cProfile one request of this label")
    args = parser.parse_args()
    if args.keep:
        with kept_database(args.keep) as (url, fresh):
            run(url, fresh, args)
    else:
        with bench_database() as url:
            run(url, True, args)


def report(results: list[tuple[str, dict[str, float], int, str]]) -> None:
    """The figures, against the goals."""
    print(f"\n{'request':<26} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}  answer")
    for label, stats, queries, mode in results:
        goal = GOALS_MS.get(label)
        mark = "" if goal is None or stats["p95"] <= goal else f"  (over the {goal:.0f} ms goal)"
        print(f"{label:<26} {stats['p50']:8.1f} {stats['p95']:8.1f} {queries:8d}  {mode}{mark}")


if __name__ == "__main__":
    main()
