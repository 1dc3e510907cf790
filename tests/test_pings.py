"""The worker's pool pings a connection only after it sat idle, and replaces a dead one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from app.engine import pings
from tests.faults.conftest import postgres_only


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, **pings.WORKER_ENGINE_OPTIONS)
    yield engine
    engine.dispose()


def _counting_pings(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, fail: bool = False
) -> list[Any]:
    pinged: list[Any] = []
    real = engine.dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        pinged.append(dbapi_connection)
        if fail:
            raise engine.dialect.loaded_dbapi.OperationalError("the server closed the connection")
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", do_ping)
    return pinged


def _one(engine: Engine) -> Any:
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
        return connection.connection.dbapi_connection


def test_a_connection_used_a_moment_ago_is_not_pinged(engine, monkeypatch):
    pings.ping_when_idle(engine, idle_seconds=60)
    pinged = _counting_pings(engine, monkeypatch)
    first = _one(engine)  # a new connection is fresh: no ping either
    assert [_one(engine) for _ in range(5)] == [first] * 5
    assert pinged == []


def test_a_connection_idle_longer_than_the_limit_is_pinged(engine, monkeypatch):
    pings.ping_when_idle(engine, idle_seconds=0.05)
    pinged = _counting_pings(engine, monkeypatch)
    first = _one(engine)
    time.sleep(0.1)
    assert _one(engine) is first
    assert pinged == [first]


def test_an_idle_connection_that_fails_its_ping_is_replaced_unseen(engine, monkeypatch):
    pings.ping_when_idle(engine, idle_seconds=0.05)
    first = _one(engine)
    time.sleep(0.1)
    pinged = _counting_pings(engine, monkeypatch, fail=True)
    second = _one(engine)  # no error: the pool opened a new one (fresh: not pinged)
    assert pinged == [first]
    assert second is not first


@postgres_only
def test_a_connection_the_server_killed_while_idle_is_replaced_unseen(engine):
    pings.ping_when_idle(engine, idle_seconds=0.05)
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    killer = create_engine(engine.url)
    with killer.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    killer.dispose()
    time.sleep(0.1)
    with engine.connect() as connection:  # no error: the ping found it dead
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar() != pid
