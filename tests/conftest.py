"""Shared fixtures: the app on SQLite or PostgreSQL, personas, factories.

The database comes from ``TEST_DATABASE_URL`` (PostgreSQL in CI's second
pass); without it, a temporary SQLite file, so worker subprocesses can share it.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask, g
from flask.testing import FlaskClient, FlaskCliRunner
from redis import Redis
from sqlalchemy import create_engine, delete, event, make_url, select, text

from app import create_app
from app.extensions import db, limiter
from app.models import AuditEvent, Execution, RetryItem, ScheduledJob, User, utcnow
from app.services.scheduling import catalog, jobs
from app.services.users import accounts

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct horse battery"


@contextmanager
def fresh_database(base_url: str, tmp_dir: Path) -> Iterator[str]:
    """An empty database of the same kind as ``base_url``, dropped afterwards.

    PostgreSQL gets a throwaway database per use, so concurrent runs never
    share tables; SQLite a new file.
    """
    url = make_url(base_url)
    if url.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_dir / f'almanac-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"almanac_test_{uuid.uuid4().hex[:12]}"
    admin_engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database the suite runs on."""
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    with fresh_database(base, tmp_path_factory.mktemp("db")) as url:
        yield url


def make_app(database_url: str, **overrides: Any) -> Flask:
    """An app configured for tests."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SECRET_KEY": "test-secret-key",
        "SERVER_NAME": "localhost",
        # The local HTTP receivers (pytest-httpserver) live on 127.0.0.1: the
        # outbound guard lets the tests reach that one address and nothing else.
        "ALLOWED_OUTBOUND_NETWORKS": ["127.0.0.1/32"],
    }
    return create_app(config | overrides)


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver on 127.0.0.1 (not "localhost", which may also mean ::1)."""
    return ("127.0.0.1", 0)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Still Argon2id, with test-sized cost: hashing dominates fixture set-up otherwise."""
    original = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts._hasher = original


@pytest.fixture(scope="session")
def _app(database_url: str) -> Iterator[Flask]:
    application = make_app(database_url)
    with application.app_context():
        db.drop_all()
        db.create_all()
    yield application
    with application.app_context():
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def app(_app: Flask) -> Iterator[Flask]:
    """The app inside an app context, on empty tables with the catalog seeded."""
    with _app.app_context():
        catalog.ensure_catalog(db.session)
        db.session.commit()
        yield _app
        db.session.rollback()
        db.session.remove()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(delete(table))
        db.session.commit()
        limiter.reset()


class IsolatedClient(FlaskClient):
    """A client whose every request starts with an empty ``g``, as in production.

    The ``app`` fixture keeps one app context open for the whole test, and Flask
    reuses it for the client's requests, so ``g`` (where Flask-Login caches the
    signed-in user and Flask-WTF the CSRF token) would otherwise leak from one
    request into the next and hide what the session cookie really carries.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        saved = dict(vars(g))
        vars(g).clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            vars(g).clear()
            vars(g).update(saved)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser-like client with per-request ``g`` (also used by ``api_as``)."""
    return IsolatedClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """Runs ``flask`` commands against the test app."""
    return app.test_cli_runner()


@dataclass
class Persona:
    """A user with an API token."""

    user: User
    token: str

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_persona(role: str, email: str) -> Persona:
    """Create a user of a role with a token.

    A test's cast is its setup, not a change under test: their audit events go,
    so audit tests see only what the test itself did.
    """
    user = accounts.create_user(db.session, email, PASSWORD, role)
    row, token = accounts.create_token(db.session, user, "tests")
    db.session.execute(delete(AuditEvent).where(AuditEvent.object_id.in_([user.id, row.id])))
    db.session.commit()
    return Persona(user, token)


@pytest.fixture
def admin(app: Flask) -> Persona:
    return make_persona("admin", "admin@example.com")


@pytest.fixture
def editor(app: Flask) -> Persona:
    return make_persona("editor", "editor@example.com")


@pytest.fixture
def viewer(app: Flask) -> Persona:
    return make_persona("viewer", "viewer@example.com")


@pytest.fixture
def outsider(app: Flask) -> Persona:
    """Another editor: must never see the first editor's jobs."""
    return make_persona("editor", "outsider@example.com")


class Api:
    """Calls /api/v1 as a persona."""

    def __init__(self, client: FlaskClient, persona: Persona | None) -> None:
        self.client = client
        self.headers = persona.headers if persona else {}

    def call(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Any:
        headers = self.headers | kwargs.pop("headers", {})
        if json is not None:
            kwargs["json"] = json
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.call("PUT", path, json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.call("PATCH", path, json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def api_as(client: FlaskClient) -> Any:
    """``api_as(persona)`` → an Api client with that persona's token (None: anonymous)."""
    return lambda persona: Api(client, persona)


JOB_DEFAULTS: dict[str, Any] = {
    "name": "Every minute",
    "task_function": "noop",
    "schedule_config": {"minutes": 1},
}


@pytest.fixture
def make_job(app: Flask) -> Any:
    """``make_job(owner, **fields)`` → a stored job, through the service."""

    made = itertools.count(1)

    def factory(owner: Persona, now: datetime | None = None, **fields: Any) -> ScheduledJob:
        # Names are unique per owner: unnamed jobs are "Every minute", "Every minute 2", …
        number = next(made)
        name = JOB_DEFAULTS["name"] + (f" {number}" if number > 1 else "")
        values = JOB_DEFAULTS | {"name": name} | fields
        job = jobs.create_job(db.session, owner.user, values, now or utcnow())
        db.session.commit()
        return job

    return factory


@pytest.fixture
def make_execution(app: Flask) -> Any:
    """``make_execution(job, **fields)`` → a stored execution row."""

    def factory(job: ScheduledJob, **fields: Any) -> Execution:
        row = Execution(job_id=job.id, **({"status": "success"} | fields))
        db.session.add(row)
        db.session.commit()
        return row

    return factory


def slot_rows(job: ScheduledJob) -> list[Execution]:
    """A job's executions, oldest slot first, read afresh."""
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Execution).where(Execution.job_id == job.id).order_by(Execution.scheduled_for)
        )
    )


@pytest.fixture
def rec(app: Flask) -> Iterator[Any]:
    """The app's Recurrence on a flushed test Redis."""
    from app.queues import recurrence

    Redis.from_url(TEST_REDIS_URL).flushdb()
    app.extensions.pop("almanac_redis", None)
    yield recurrence()
    Redis.from_url(TEST_REDIS_URL).flushdb()


@pytest.fixture
def engine(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Real scheduler/worker subprocesses on the test database and a flushed test Redis."""
    from tests.engine import Engine

    runner = Engine(database_url, TEST_REDIS_URL, tmp_path)
    runner.redis.flushdb()
    app.extensions.pop("almanac_redis", None)
    yield runner
    runner.stop_all()
    runner.redis.flushdb()


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (queries-per-page tests count them)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def add_due_retries(jobs: list[ScheduledJob], now: datetime) -> None:
    """One failed manual run per job, each with a pending retry item due at ``now``.

    One per job: a job's retries start one after another, so a backlog that
    drains in batches is many jobs' failures.
    """
    failed = [
        Execution(
            id=uuid.uuid4(),
            job_id=job.id,
            status="failed",
            scheduled_for=now,
            triggered_by="manual",
        )
        for job in jobs
    ]
    db.session.add_all(failed)
    db.session.flush()
    db.session.add_all(
        RetryItem(execution_id=row.id, job_id=row.job_id, attempt=2, next_try_at=now)
        for row in failed
    )
    db.session.commit()
