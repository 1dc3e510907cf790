"""History reads: the slot window, and keyset pages that never skip nor repeat a row."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Execution, utcnow
from app.services import keyset
from app.services.errors import Invalid
from app.services.ledger import executions
from app.services.ledger.executions import HistoryFilters


@pytest.fixture
def history(editor, make_job):
    """Twelve runs of one job, four per creation instant (ties), a slot each minute apart."""
    job = make_job(editor)
    start = utcnow().replace(microsecond=0) - timedelta(hours=1)
    rows = []
    for n in range(12):
        rows.append(
            Execution(
                job_id=job.id,
                status="success",
                triggered_by="manual",
                created_at=start + timedelta(seconds=n // 4),
                scheduled_for=start + timedelta(minutes=n),
            )
        )
    db.session.add_all(rows)
    db.session.commit()
    return job, start, rows


def walk(user, filters, limit):
    """Every keyset page in turn, as lists of ids."""
    pages, cursor = [], None
    while True:
        page = executions.list_executions_keyset(db.session, user, filters, cursor, limit)
        pages.append([row.id for row in page.items])
        assert page.has_more == (page.next_cursor is not None)
        if not page.has_more:
            return pages
        cursor = page.next_cursor


def test_keyset_pages_cover_every_row_once_in_the_offset_order(editor, history):
    expected = [
        row.id
        for row in executions.list_executions(
            db.session, editor.user, HistoryFilters(per_page=100)
        ).items
    ]
    pages = walk(editor.user, HistoryFilters(), limit=5)
    assert [len(page) for page in pages] == [5, 5, 2]
    flat = [row_id for page in pages for row_id in page]
    assert sorted(flat) == sorted(expected) and len(set(flat)) == 12
    # Newest first on (created_at, id): ties broken by id, the same in every page.
    created = {row.id: row.created_at for row in history[2]}
    assert [created[i] for i in flat] == sorted(created.values(), reverse=True)


def test_an_exact_last_page_says_no_more(editor, history):
    page = executions.list_executions_keyset(db.session, editor.user, HistoryFilters(), None, 12)
    assert len(page.items) == 12 and not page.has_more and page.next_cursor is None


def test_the_slot_window_filters_and_orders_by_slot(api_as, editor, history):
    _, start, rows = history
    window = HistoryFilters(
        scheduled_since=start + timedelta(minutes=3), scheduled_until=start + timedelta(minutes=9)
    )
    pages = walk(editor.user, window, limit=4)
    flat = [row_id for page in pages for row_id in page]
    assert flat == [row.id for row in reversed(rows[3:9])]  # newest slot first
    offset = executions.list_executions(db.session, editor.user, window)
    assert offset.total == 6
    since = (start + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (start + timedelta(minutes=9)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = api_as(editor).get(f"/history?scheduledSince={since}&scheduledUntil={until}").json
    assert body["total"] == 6


def test_the_slot_window_leaves_runs_without_a_slot_out(editor, history):
    job, start, _ = history
    db.session.add(Execution(job_id=job.id, status="success", triggered_by="api"))
    db.session.commit()
    page = executions.list_executions_keyset(
        db.session, editor.user, HistoryFilters(scheduled_since=start - timedelta(days=1)), None, 50
    )
    assert len(page.items) == 12


def test_keyset_pages_show_only_visible_jobs(editor, outsider, history, make_job):
    other = make_job(outsider, name="theirs")
    db.session.add(Execution(job_id=other.id, status="success", triggered_by="manual"))
    db.session.commit()
    mine = executions.list_executions_keyset(db.session, editor.user, HistoryFilters(), None, 50)
    theirs = executions.list_executions_keyset(
        db.session, outsider.user, HistoryFilters(), None, 50
    )
    assert len(mine.items) == 12 and [r.job_id for r in theirs.items] == [other.id]


def _cursor(payload):
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        _cursor(["a list"]),
        _cursor({"k": "created", "t": "yesterday", "i": "x"}),
        _cursor({"k": "created", "t": "2026-01-01T00:00:00", "i": str(uuid.uuid4())}),
        _cursor(
            {
                "k": "scheduled",
                "t": "2026-01-01T00:00:00+00:00",
                "i": str(uuid.uuid4()),
            }
        ),
    ],
)
def test_a_foreign_or_broken_cursor_is_refused(editor, cursor):
    with pytest.raises(Invalid) as raised:
        executions.list_executions_keyset(db.session, editor.user, HistoryFilters(), cursor, 10)
    assert raised.value.fields == {"cursor": "invalid"}


@pytest.mark.parametrize("limit", [0, keyset.MAX_LIMIT + 1])
def test_the_limit_is_bounded(editor, limit):
    with pytest.raises(Invalid):
        executions.list_executions_keyset(db.session, editor.user, HistoryFilters(), None, limit)
