"""The audit trail: per job and global, newest first, visible exactly when its job is."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import AuditEvent, utcnow
from app.services.errors import Invalid
from app.services.scheduling import audit


@pytest.fixture
def trail(editor, outsider, make_job):
    """Each job's "created" event, five more on the editor's job (two share an instant),
    and one event tied to no job."""
    mine, theirs = make_job(editor), make_job(outsider, name="theirs")
    start = utcnow() + timedelta(minutes=1)
    for n, seconds in enumerate([0, 1, 2, 2, 3]):
        db.session.add(
            AuditEvent(
                job_id=mine.id,
                user_id=editor.id,
                action="updated",
                changes={"n": n},
                created_at=start + timedelta(seconds=seconds),
            )
        )
    db.session.add(AuditEvent(job_id=None, action="settings", created_at=start))
    db.session.commit()
    return mine, theirs


def every_event(user, **options):
    events, cursor = [], None
    while True:
        page = audit.list_events(db.session, user, cursor=cursor, limit=2, **options)
        events += page.items
        if not page.has_more:
            return events
        cursor = page.next_cursor


def test_an_editor_reads_only_their_jobs_events_newest_first(editor, trail):
    mine, _ = trail
    events = every_event(editor.user)
    assert {e.job_id for e in events} == {mine.id} and len(events) == 6
    stamps = [(e.created_at, e.id) for e in events]
    assert stamps == sorted(stamps, reverse=True)
    assert events[-1].action == "created"


def test_a_viewer_reads_every_jobs_events_but_not_the_rest(viewer, trail):
    events = every_event(viewer.user)
    assert len(events) == 7 and all(e.job_id is not None for e in events)


def test_an_admin_reads_everything(admin, trail):
    assert len(every_event(admin.user)) == 8


def test_one_jobs_trail(admin, editor, outsider, trail):
    mine, theirs = trail
    assert [e.action for e in every_event(admin.user, job_id=theirs.id)] == ["created"]
    assert len(every_event(outsider.user, job_id=theirs.id)) == 1
    assert every_event(editor.user, job_id=theirs.id) == []  # not theirs to see
    assert len(every_event(editor.user, job_id=mine.id)) == 6


def test_a_history_cursor_is_not_an_audit_cursor(editor, trail, make_execution):
    from app.services.ledger import executions

    mine, _ = trail
    for _ in range(3):
        make_execution(mine)
    filters = executions.HistoryFilters()
    cursor = executions.list_executions_keyset(db.session, editor.user, filters, None, 1)
    with pytest.raises(Invalid):
        audit.list_events(db.session, editor.user, cursor=cursor.next_cursor)
    with pytest.raises(Invalid):
        audit.list_events(db.session, editor.user, limit=0)
