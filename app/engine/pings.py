"""The worker's pooled connections are pinged only when they sat idle.

The pool's pre-ping sends a round trip before every checkout. A worker
checks a connection out twice per run (to claim it, then to record it),
milliseconds apart, and on a busy worker those pings cost a sixth of its
throughput (docs/PERFORMANCE.md). Here a connection is pinged at checkout
only if it sat in the pool longer than ``IDLE_SECONDS``: one that a
database restart left dead is replaced before use, as with pre-ping. One
killed while the worker was busy fails its next statement instead, which
every database step of a run survives (``entrypoints._patiently`` tries
again on a fresh connection; the heartbeat thread logs and beats again).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

from app.config import ENGINE_OPTIONS

# The options the worker's engine is built with: pings come from ping_when_idle.
WORKER_ENGINE_OPTIONS: dict[str, Any] = ENGINE_OPTIONS | {"pool_pre_ping": False}
IDLE_SECONDS = 1.0
_IDLE_SINCE = "almanac_idle_since"


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_SECONDS) -> None:
    """Ping a connection at checkout if it sat idle longer than ``idle_seconds``.

    A failed ping raises ``DisconnectionError``: the pool drops that
    connection and checks out (or opens) another, as it does for pre-ping.
    The listeners outlive ``engine.dispose()`` (a disposed pool's successor
    keeps them), so forked children and work horses ping the same way.
    """

    def fresh(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"a pooled connection failed its ping: {error}") from error

    event.listen(engine, "connect", fresh)
    event.listen(engine, "checkin", fresh)
    event.listen(engine, "checkout", checkout)
