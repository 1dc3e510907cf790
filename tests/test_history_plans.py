"""On PostgreSQL a deep keyset page of history is an index range scan, not a table scan."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from app.extensions import db
from app.models import Execution, utcnow
from app.services.ledger import executions
from app.services.ledger.executions import HistoryFilters

ROWS = 30_000
LIMIT = 50


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("query plans are PostgreSQL's")


@pytest.fixture
def big_history(postgres, admin, make_job):
    """ROWS finished runs of a few jobs, one second apart, with fresh statistics."""
    jobs = [make_job(admin, name=f"job {n}").id for n in range(5)]
    start = utcnow() - timedelta(seconds=ROWS)
    rows = [
        {
            "id": uuid.uuid4(),
            "job_id": jobs[n % len(jobs)],
            "status": "success",
            "triggered_by": "scheduler",
            "attempt": 1,
            "scheduled_for": start + timedelta(seconds=n),
            "created_at": start + timedelta(seconds=n),
        }
        for n in range(ROWS)
    ]
    db.session.execute(insert(Execution), rows)
    db.session.execute(text("ANALYZE executions"))
    db.session.commit()
    return jobs


def plan_of(query):
    """EXPLAIN ANALYZE's plan tree for a query, run as the application would send it."""
    compiled = query.compile(dialect=db.engine.dialect)
    result = db.session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, compiled.params
    )
    plan = result.scalar_one()
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def deep_cursor(user, filters, pages):
    cursor = None
    for _ in range(pages):
        page = executions.list_executions_keyset(db.session, user, filters, cursor, LIMIT)
        cursor = page.next_cursor
    return cursor


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (HistoryFilters(), "ix_executions_created_id"),
        (
            HistoryFilters(scheduled_since=utcnow() - timedelta(days=2)),
            "ix_executions_scheduled_id",
        ),
    ],
)
def test_a_deep_keyset_page_reads_only_its_rows_from_an_index(admin, big_history, filters, index):
    cursor = deep_cursor(admin.user, filters, pages=400)  # 20,000 rows deep
    plan = plan_of(executions.keyset_query(admin.user, filters, cursor, LIMIT + 1))
    scans = [n for n in nodes(plan) if n.get("Relation Name") == "executions"]
    assert [n["Node Type"] for n in scans] in (["Index Scan"], ["Index Only Scan"]), plan
    assert scans[0]["Index Name"] == index
    assert scans[0]["Actual Rows"] <= LIMIT + 1  # the page, not the 20,000 rows before it
