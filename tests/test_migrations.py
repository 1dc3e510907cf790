"""`flask db upgrade` from an empty database yields exactly the models' schema."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app.extensions import db
from app.models import JobType, ScheduledJob, utcnow
from app.models.types import UTCDateTime
from app.services.scheduling import catalog
from tests.conftest import JOB_DEFAULTS, fresh_database, make_app, make_persona


@pytest.fixture
def migrated_app(tmp_path):
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    with fresh_database(base, tmp_path) as url:
        application = make_app(url)
        with application.app_context():
            upgrade()
            yield application
            db.session.remove()
            db.engine.dispose()


def test_upgrade_from_empty_matches_models(migrated_app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_upgrade_seeds_job_types(migrated_app):
    names = db.session.scalars(select(JobType.name).order_by(JobType.id)).all()
    assert names == ["interval", "cron", "date"]


def test_slot_index_is_partial_and_unique(migrated_app):
    indexes = {ix["name"]: ix for ix in inspect(db.engine).get_indexes("executions")}
    slot = indexes["uq_executions_job_slot"]
    assert slot["unique"] and slot["column_names"] == ["job_id", "scheduled_for"]


def test_downgrade_removes_everything(migrated_app):
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}


def test_history_and_held_indexes_exist(migrated_app):
    indexes = {
        ix["name"]: ix["column_names"] for ix in inspect(db.engine).get_indexes("executions")
    }
    assert indexes["ix_executions_created_id"] == ["created_at", "id"]
    assert indexes["ix_executions_scheduled_id"] == ["scheduled_for", "id"]
    assert indexes["ix_executions_job_scheduled"] == ["job_id", "scheduled_for", "id"]
    assert indexes["ix_executions_held"] == ["job_id", "scheduled_for"]


_LEGACY = sa.table(
    "executions",
    sa.column("id", sa.Uuid),
    sa.column("job_id", sa.Uuid),
    sa.column("status", sa.String),
    sa.column("scheduled_for", UTCDateTime),
    sa.column("attempt", sa.Integer),
    sa.column("triggered_by", sa.String),
    sa.column("created_at", UTCDateTime),
    sa.column("reason", sa.String),
)
_OLD_REASONS = {
    "overlap": "waiting for a free instance (max_instances=1, overlap policy queue)",
    "catch_up": "waiting for a free instance; catch-up run: due 90s ago",
    "plain": "catch-up run: due 90s ago",
}


def _legacy_rows(job_id):
    """Rows as revision 0002 stored them: held runs marked by a reason prefix."""
    now = utcnow()
    ids = {name: uuid.uuid4() for name in _OLD_REASONS}
    base = {"job_id": job_id, "scheduled_for": now, "attempt": 1, "created_at": now}
    with db.engine.begin() as connection:
        for name, reason in _OLD_REASONS.items():
            status = "queued" if name == "plain" else "pending"
            connection.execute(
                _LEGACY.insert().values(
                    id=ids[name], status=status, triggered_by="manual", reason=reason, **base
                )
            )
    return ids


def test_upgrade_turns_the_reason_prefix_into_the_held_column(migrated_app):
    from app.services.scheduling import jobs

    catalog.ensure_catalog(db.session)
    owner = make_persona("editor", "owner@example.com")
    job_id = jobs.create_job(db.session, owner.user, JOB_DEFAULTS, utcnow()).id
    db.session.commit()
    db.session.close()
    downgrade(revision="0002_retries_webhooks")
    ids = _legacy_rows(job_id)
    upgrade()
    executions = sa.table(
        "executions", sa.column("id", sa.Uuid), sa.column("held"), sa.column("reason")
    )
    with db.engine.connect() as connection:
        rows = {
            row.id: (bool(row.held), row.reason)
            for row in connection.execute(sa.select(executions))
        }
    assert rows[ids["overlap"]] == (
        True,
        "held for a free instance (max_instances=1, overlap policy queue)",
    )
    assert rows[ids["catch_up"]] == (True, "catch-up run: due 90s ago; held for a free instance")
    assert rows[ids["plain"]] == (False, "catch-up run: due 90s ago")
    downgrade(revision="0002_retries_webhooks")  # and back: the prefix returns
    with db.engine.connect() as connection:
        reason = connection.scalar(
            sa.select(_LEGACY.c.reason).where(_LEGACY.c.id == ids["catch_up"])
        )
    assert (
        reason == "waiting for a free instance; catch-up run: due 90s ago; held for a free instance"
    )


def test_upgrade_renames_same_named_jobs_before_making_names_unique(migrated_app):
    from app.services.scheduling import jobs

    catalog.ensure_catalog(db.session)
    owner = make_persona("editor", "owner@example.com")
    first = jobs.create_job(db.session, owner.user, JOB_DEFAULTS | {"name": "Report"}, utcnow())
    db.session.commit()
    first_id, owner_id = first.id, owner.id
    kinds = (first.task_function_id, first.job_type_id)
    db.session.close()
    downgrade(revision="0003_held_history_indexes")
    # Without the index (jobs' columns are the same at 0003), a twin can be stored.
    twin = ScheduledJob(
        name="REPORT",
        task_function_id=kinds[0],
        job_type_id=kinds[1],
        owner_id=owner_id,
    )
    db.session.add(twin)
    db.session.commit()
    db.session.close()
    names = sa.table("scheduled_jobs", sa.column("id", sa.Uuid), sa.column("name", sa.String))
    upgrade()
    with db.engine.connect() as connection:
        stored = dict(connection.execute(sa.select(names.c.id, names.c.name)).all())
    assert stored.pop(first_id) == "Report"
    assert list(stored.values()) == ["REPORT (2)"]


def test_upgrade_gives_existing_retry_items_their_error_group(migrated_app):
    from app.services.scheduling import jobs

    catalog.ensure_catalog(db.session)
    owner = make_persona("editor", "owner@example.com")
    job_id = jobs.create_job(db.session, owner.user, JOB_DEFAULTS, utcnow()).id
    db.session.commit()
    db.session.close()
    downgrade(revision="0008_job_defaults")
    run_id, item_id, now = uuid.uuid4(), uuid.uuid4(), utcnow()
    items = sa.table(
        "retry_items",
        *(sa.column(name, sa.Uuid) for name in ("id", "execution_id", "job_id")),
        sa.column("attempt", sa.Integer),
        sa.column("next_try_at", UTCDateTime),
        sa.column("status", sa.String),
        sa.column("last_error", sa.Text),
        sa.column("abandoned", sa.Integer),
        sa.column("created_at", UTCDateTime),
        sa.column("updated_at", UTCDateTime),
    )
    with db.engine.begin() as connection:
        connection.execute(
            _LEGACY.insert().values(
                id=run_id,
                job_id=job_id,
                status="failed",
                attempt=1,
                triggered_by="manual",
                created_at=now,
            )
        )
        connection.execute(
            items.insert().values(
                id=item_id,
                execution_id=run_id,
                job_id=job_id,
                attempt=2,
                next_try_at=now,
                status="dead",
                abandoned=0,
                created_at=now,
                updated_at=now,
                last_error="OSError: disk 7 full",
            )
        )
    upgrade()
    grouped = sa.table("retry_items", sa.column("id", sa.Uuid), sa.column("error_group"))
    with db.engine.connect() as connection:
        group = connection.scalar(sa.select(grouped.c.error_group).where(grouped.c.id == item_id))
    assert group == "OSError: disk <n> full"


def test_upgrade_names_the_object_of_every_earlier_audit_event(migrated_app):
    from app.services.scheduling import jobs

    catalog.ensure_catalog(db.session)
    owner = make_persona("editor", "owner@example.com")
    job_id = jobs.create_job(db.session, owner.user, JOB_DEFAULTS, utcnow()).id
    db.session.commit()
    db.session.close()
    downgrade(revision="0009_runs_failed_indexes")
    events = sa.table(
        "audit_events",
        sa.column("id", sa.Uuid),
        sa.column("job_id", sa.Uuid),
        sa.column("action", sa.String),
        sa.column("changes", sa.JSON),
        sa.column("created_at", UTCDateTime),
    )
    of_job, of_defaults = uuid.uuid4(), uuid.uuid4()
    with db.engine.begin() as connection:
        for event_id, job, action in (
            (of_job, job_id, "pause"),
            (of_defaults, None, "job_defaults_updated"),
        ):
            connection.execute(
                events.insert().values(
                    id=event_id, job_id=job, action=action, changes={}, created_at=utcnow()
                )
            )
    upgrade()
    named = sa.table(
        "audit_events",
        sa.column("id", sa.Uuid),
        sa.column("object_type", sa.String),
        sa.column("object_id", sa.Uuid),
    )
    with db.engine.connect() as connection:
        rows = {
            row.id: (row.object_type, row.object_id) for row in connection.execute(sa.select(named))
        }
    assert rows[of_job] == ("job", job_id)
    assert rows[of_defaults] == ("settings", None)
    indexes = {
        ix["name"]: ix["column_names"] for ix in inspect(db.engine).get_indexes("audit_events")
    }
    assert indexes["ix_audit_events_object"] == ["object_type", "object_id", "created_at"]
    assert indexes["ix_audit_events_type_created"] == ["object_type", "created_at", "id"]
