"""A work horse RQ forks never talks on its worker's database connections.

Real forks on the suite's database: the worker child calls the hook the
`worker` process uses, keeps a pooled connection, then forks a horse.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from sqlalchemy import text

from app.engine.workers import _fresh_pool_in_every_child
from app.extensions import db


def _in_child(body: Callable[[], bool]) -> int:
    """Run ``body`` in a forked child; its exit code is 0 when it returned True."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which coverage does not follow
        code = 1
        try:
            code = 0 if body() else 2
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _backend() -> int | None:
    """Query through the pool; the server's pid for the connection on PostgreSQL."""
    with db.engine.connect() as connection:
        if db.engine.dialect.name == "postgresql":
            return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
        connection.execute(text("SELECT 1"))
        return None


def test_a_horse_starts_with_an_empty_pool_and_leaves_the_workers_connection_alive(app):
    def worker() -> bool:
        _fresh_pool_in_every_child()
        mine = _backend()  # now idle in the worker's pool, as between two runs

        def horse() -> bool:
            empty = db.engine.pool.checkedin() == 0
            theirs = _backend()
            return empty and (theirs is None or theirs != mine)

        return _in_child(horse) == 0 and _backend() == mine

    assert _in_child(worker) == 0
