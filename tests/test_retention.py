"""Retention: old finished history goes in batches; open runs and recent history stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import Execution, utcnow
from app.services.ledger import retention
from app.tasks import registry


def _count():
    return db.session.scalar(select(func.count()).select_from(Execution))


def test_purge_older_than_keeps_recent_and_open_runs(editor, make_job, make_execution):
    job = make_job(editor)
    now = utcnow()
    old = now - timedelta(days=40)
    for _ in range(3):
        make_execution(job, created_at=old)
    make_execution(job, created_at=old, status="running")
    make_execution(job, created_at=now - timedelta(days=2))
    assert retention.purge_older_than(db.session, 30, now, batch_size=2) == 3
    assert _count() == 2


def test_cleanup_history_task_uses_the_apps_session(editor, make_job, make_execution):
    job = make_job(editor)
    make_execution(job, created_at=utcnow() - timedelta(days=10))
    make_execution(job, created_at=utcnow())
    cleanup = registry.get("cleanup_history").func
    assert cleanup(older_than_days=5, batch_size=100) == {"deleted": 1}
    assert _count() == 1
