"""`flask db upgrade` from an empty database yields exactly the models' schema."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app.extensions import db
from app.models import JobType
from tests.conftest import fresh_database, make_app


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
