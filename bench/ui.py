"""Browser pages: server time and SQL statements per request with 100,000 jobs, 1,000,000 runs.

.venv/bin/python -m bench.ui [--jobs 100000] [--executions 1000000] [--retries 100000]
                            [--requests 30]

Times the Flask view (test client, no network) signed in as an admin: the jobs
table (first page, a search, a deep page, sorted by next run), a job's page
(the job with the most runs), a run's page, the schedule preview, the status
page and the jobs page's status panel, the audit log (first page, a filter,
one job's slice, a deep page) over ``--audit-events`` events, the runs page
(first page, an outcome filter, a page half-way down the history) and the
failed-tasks page (list and grouped by error).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text

from app.extensions import db
from app.models import AuditEvent, Execution, ScheduledJob
from app.services import keyset
from app.services.users import accounts
from bench.common import bench_app, bench_database, percentiles

OWNERS = 5
DAYS = 30
GOAL_MS = 150.0

# Jobs: every fourth a cron job, the rest interval jobs; owners round-robin; a
# few paused or disabled; names "job 000042 report"/"backup"/... for the search.
_JOBS_SQL = """
INSERT INTO scheduled_jobs (
    id, name, description, task_function_id, job_type_id, schedule_config, timezone,
    start_date, jitter_seconds, task_args, max_instances, overlap_policy, misfire_policy,
    misfire_grace_seconds, timeout_seconds, retry_count, retry_delay_seconds, retry_backoff,
    retry_max_delay_seconds, retry_jitter_seconds, max_consecutive_failures, is_enabled,
    is_paused, status, next_run_time, last_run_time, last_status, consecutive_failures,
    owner_id, created_at, updated_at)
SELECT gen_random_uuid(),
       'job ' || lpad(i::text, 6, '0') || ' ' || (ARRAY['report','backup','sync','cleanup',
           'export','digest','ping'])[1 + i % 7],
       CASE WHEN i % 10 = 0 THEN 'bench job number ' || i END,
       :task, CASE WHEN i % 4 = 0 THEN :cron ELSE :interval END,
       CASE WHEN i % 4 = 0 THEN json_build_object('expression', (i % 60) || ' * * * *')
            ELSE json_build_object('seconds', 60 * (1 + i % 60)) END,
       (ARRAY['UTC','Europe/Paris','America/New_York','Asia/Tokyo'])[1 + i % 4],
       :now - interval '60 days', 0, '{}'::json, 1, 'skip', 'run_once', 60, 300, 0, 60,
       'exponential', 3600, 0, 0, i % 50 <> 1, i % 50 = 2,
       CASE WHEN i % 50 = 1 THEN 'disabled' WHEN i % 50 = 2 THEN 'paused' ELSE 'active' END,
       :now + make_interval(secs => i % 86400), :now - make_interval(secs => i % 3600),
       CASE WHEN i % 13 = 0 THEN 'failed' ELSE 'success' END, 0,
       (:owners)[1 + i % cardinality(:owners)], :now - make_interval(secs => i), :now
FROM generate_series(0, :count - 1) AS i
"""

# Runs: the first job (ordered by name) runs every minute for 30 days; the rest
# are spread over the other jobs and the 30 days. Mostly successes, some
# failures, timeouts, skipped and missed slots.
_RUNS_SQL = """
INSERT INTO executions (
    id, job_id, status, scheduled_for, attempt, queued_at, started_at, completed_at,
    duration_seconds, error_message, log_output, triggered_by, worker_name, held, created_at)
SELECT gen_random_uuid(), j.id, s.status, s.slot, 1,
       CASE WHEN s.ran THEN s.slot END,
       CASE WHEN s.ran THEN s.slot + interval '0.2 seconds' END,
       CASE WHEN s.ran THEN s.slot + make_interval(secs => s.duration) END,
       CASE WHEN s.ran THEN s.duration END,
       CASE WHEN s.status IN ('failed', 'timeout') THEN 'RuntimeError: bench failure' END,
       CASE WHEN s.ran THEN 'line one' || chr(10) || 'line two' END,
       'scheduler', CASE WHEN s.ran THEN 'bench-worker' END, false, s.slot
FROM (
    SELECT i, CASE WHEN i < :hot THEN 0 ELSE 1 + (i - :hot) % (:jobs - 1) END AS n,
           CASE WHEN i < :hot THEN :now - make_interval(mins => i + 1)
                ELSE :now - make_interval(secs => (i - :hot) * :spacing) END AS slot,
           CASE WHEN i % 100 < 86 THEN 'success' WHEN i % 100 < 93 THEN 'failed'
                WHEN i % 100 < 94 THEN 'timeout' WHEN i % 100 < 97 THEN 'skipped'
                ELSE 'missed' END AS status,
           i % 100 < 94 AS ran, 0.05 + (i % 1000) / 100.0 AS duration
    FROM generate_series(:start, :stop - 1) AS i
) AS s
JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM scheduled_jobs) AS j
  ON j.n = s.n
"""


# Audit events: mostly updates, some pauses and resumes, spread over the jobs, the
# owners and the 30 days; the hot job (first by name) gets one in a hundred.
_AUDIT_SQL = """
INSERT INTO audit_events (id, object_type, object_id, job_id, user_id, action, changes, created_at)
SELECT gen_random_uuid(), 'job', j.id, j.id, (:owners)[1 + i % cardinality(:owners)],
       CASE WHEN i % 50 = 0 THEN 'pause' WHEN i % 50 = 1 THEN 'resume' ELSE 'updated' END,
       json_build_object('timeout_seconds', json_build_object('from', 300, 'to', 300 + i % 60)),
       :now - make_interval(secs => i * :spacing)
FROM generate_series(0, :count - 1) AS i
JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM scheduled_jobs) AS j
  ON j.n = CASE WHEN i % 100 = 0 THEN 0 ELSE i % :jobs END
"""


def populate_audit(events: int, jobs: int) -> None:
    """Audit events by bulk SQL (after the jobs), then ANALYZE."""
    owners = list(db.session.scalars(text("SELECT id FROM users")))
    now = db.session.scalar(text("SELECT now()"))
    spacing = DAYS * 86400 / max(1, events)
    db.session.execute(
        text(_AUDIT_SQL),
        {"owners": owners, "now": now, "spacing": spacing, "count": events, "jobs": jobs},
    )
    db.session.execute(text("ANALYZE audit_events"))
    db.session.commit()
    print(f"{events} audit events inserted", flush=True)


def populate(jobs: int, executions: int) -> None:
    """Owners, jobs and runs by bulk SQL, then ANALYZE (inside an app context)."""
    owners = [db.session.scalar(text("SELECT id FROM users"))]
    for k in range(1, OWNERS):
        owners.append(
            accounts.create_user(db.session, f"owner{k}@example.com", "bench-password", "editor").id
        )
    ids = dict(db.session.execute(text("SELECT name, id FROM job_types")).all())
    task = db.session.scalar(text("SELECT id FROM task_functions WHERE name = 'noop'"))
    now = db.session.scalar(text("SELECT now()"))
    began = time.perf_counter()
    db.session.execute(
        text(_JOBS_SQL),
        {
            "task": task,
            "cron": ids["cron"],
            "interval": ids["interval"],
            "now": now,
            "owners": owners,
            "count": jobs,
        },
    )
    db.session.commit()
    print(f"{jobs} jobs inserted in {time.perf_counter() - began:.1f} s", flush=True)
    hot = min(DAYS * 24 * 60, executions // 10)
    spacing = DAYS * 86400 / max(1, executions - hot)
    step = 200_000
    for start in range(0, executions, step):
        db.session.execute(
            text(_RUNS_SQL),
            {
                "hot": hot,
                "jobs": jobs,
                "now": now,
                "spacing": spacing,
                "start": start,
                "stop": min(executions, start + step),
            },
        )
        db.session.commit()
        print(
            f"  {min(executions, start + step)} runs ({time.perf_counter() - began:.0f} s)",
            flush=True,
        )
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    print(f"populated and analysed in {time.perf_counter() - began:.1f} s", flush=True)


# Retry items: one per failed run (failures first), most dead, a quarter waiting;
# four causes whose messages differ only in numbers or quoted values (four groups).
_RETRIES_SQL = """
INSERT INTO retry_items (id, execution_id, job_id, attempt, next_try_at, status, last_error,
                         error_group, abandoned, created_at, updated_at)
SELECT gen_random_uuid(), e.id, e.job_id, 2, e.created_at + interval '5 minutes',
       CASE WHEN e.n % 4 = 0 THEN 'pending' ELSE 'dead' END,
       (ARRAY['RuntimeError: bench failure ' || e.n, 'TimeoutError: read ' || e.n || ' bytes',
              'KeyError: ''customer-' || e.n || '''', 'OSError: disk ' || e.n % 97 || ' full'])
           [1 + e.n % 4],
       (ARRAY['RuntimeError: bench failure <n>', 'TimeoutError: read <n> bytes',
              'KeyError: ''…''', 'OSError: disk <n> full'])[1 + e.n % 4],
       0, e.created_at, e.created_at
FROM (SELECT id, job_id, created_at, row_number() OVER () AS n
      FROM executions ORDER BY status IN ('failed', 'timeout') DESC LIMIT :count) AS e
"""


def populate_retries(count: int) -> None:
    """``count`` retry items by bulk SQL, then ANALYZE (inside an app context)."""
    began = time.perf_counter()
    db.session.execute(text(_RETRIES_SQL), {"count": count})
    db.session.execute(text("ANALYZE retry_items"))
    db.session.commit()
    print(f"{count} retry items inserted in {time.perf_counter() - began:.1f} s", flush=True)


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """Collect the SQL statements the app's engine runs meanwhile."""
    statements: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def sign_in(client: FlaskClient) -> None:
    """Sign in through the login form as the bench admin."""
    form = {"email": "bench@example.com", "password": "bench-password", "next": ""}
    response = client.post("/login", data=form)
    if response.status_code != 302:
        raise SystemExit(f"sign-in failed: {response.status_code}")


PARTIAL = {"HX-Request": "true"}
Target = tuple[str, str, str, dict[str, Any] | None, dict[str, str] | None]


def targets(app: Flask, jobs: int) -> list[Target]:
    """(label, method, path, form, headers) of every page timed."""
    with app.app_context():
        hot = db.session.scalar(select(ScheduledJob.id).order_by(ScheduledJob.name).limit(1))
        run = db.session.scalar(
            select(Execution.id)
            .where(Execution.job_id == hot, Execution.status == "failed")
            .order_by(Execution.created_at.desc())
            .limit(1)
        )
        runs = db.session.scalar(select(text("count(*)")).where(Execution.job_id == hot))
        audit_middle = (
            db.session.scalar(select(text("count(*)")).select_from(AuditEvent)) or 0
        ) // 2
        deep_event = db.session.scalar(
            select(AuditEvent).order_by(AuditEvent.created_at.desc()).offset(audit_middle).limit(1)
        )
        audit_cursor = (
            keyset.encode("audit", deep_event.created_at, deep_event.id) if deep_event else ""
        )
        total = db.session.scalar(select(text("count(*)")).select_from(Execution)) or 0
        middle = db.session.execute(
            select(Execution.created_at, Execution.id)
            .order_by(Execution.created_at.desc(), Execution.id.desc())
            .offset(total // 2)
            .limit(1)
        ).one()
    cursor = keyset.encode("created", middle[0], middle[1])
    deep = max(1, jobs // 20 // 2)
    preview = {
        "name": "Preview",
        "task_function": "noop",
        "schedule_type": "cron",
        "cron_expression": "30 6 * * 1-5",
        "timezone": "Europe/Paris",
        "action": "preview",
    }
    return [
        ("jobs: first page", "GET", "/jobs", None, None),
        ("jobs: search '0042'", "GET", "/jobs?q=0042", None, None),
        ("jobs: search, no match", "GET", "/jobs?q=no-such-job", None, None),
        (f"jobs: page {deep}", "GET", f"/jobs?page={deep}", None, None),
        ("jobs: sorted by next run", "GET", "/jobs?sort=next", None, None),
        (f"job detail ({runs} runs)", "GET", f"/jobs/{hot}", None, None),
        ("run detail", "GET", f"/runs/{run}", None, None),
        ("preview (cron)", "POST", "/jobs/preview", preview, None),
        ("status page", "GET", "/status", None, None),
        ("status panel (htmx)", "GET", "/status/panel", None, PARTIAL),
        ("audit: first page", "GET", "/audit", None, None),
        ("audit: action=pause", "GET", "/audit?action=pause", None, None),
        ("audit: one job (the hot one)", "GET", f"/audit?object={hot}", None, None),
        ("audit: deep page (cursor)", "GET", f"/audit?cursor={audit_cursor}", None, None),
        ("runs: first page", "GET", "/runs", None, None),
        ("runs: outcome failed", "GET", "/runs?outcome=failed", None, None),
        (f"runs: after run {total // 2}", "GET", f"/runs?cursor={cursor}", None, None),
        ("failed: first page", "GET", "/failed", None, None),
        ("failed: grouped by error", "GET", "/failed?view=groups", None, None),
    ]


def measure(
    app: Flask, jobs: int, requests: int, only: str = ""
) -> list[tuple[str, dict[str, float], int]]:
    """Time each page ``requests`` times after one warm-up; statements of the last request.

    ``only``: time just the pages whose label starts with one of these comma-separated words.
    """
    client = app.test_client()
    sign_in(client)
    results = []
    chosen = tuple(word for word in only.split(",") if word)
    for label, method, path, form, headers in targets(app, jobs):
        if chosen and not label.startswith(chosen):
            continue
        times = []
        queries = 0
        for i in range(requests + 1):
            with counted(app) as statements:
                began = time.perf_counter()
                response = client.open(path, method=method, data=form, headers=headers)
                elapsed = (time.perf_counter() - began) * 1000
            if response.status_code != 200 or (form and b"<time datetime=" not in response.data):
                raise SystemExit(f"{label}: {method} {path} answered {response.status_code}")
            queries = len(statements)
            if i:  # the first request warms caches (templates, catalogue)
                times.append(elapsed)
        results.append((label, percentiles(times), queries))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--retries", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--audit-events", type=int, default=100_000)
    parser.add_argument("--only", default="", help="labels' first words, e.g. status,audit")
    args = parser.parse_args()
    with bench_database() as url:
        app = bench_app(url, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
        with app.app_context():
            populate(args.jobs, args.executions)
            populate_audit(args.audit_events, args.jobs)
            populate_retries(min(args.retries, args.executions))
            db.session.remove()
        results = measure(app, args.jobs, args.requests, args.only)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    print(f"\n{'page':<34} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for label, stats, queries in results:
        mark = "" if stats["p95"] <= GOAL_MS else f"  (over the {GOAL_MS:.0f} ms goal)"
        print(f"{label:<34} {stats['p50']:8.1f} {stats['p95']:8.1f} {queries:8d}{mark}")


if __name__ == "__main__":
    main()
