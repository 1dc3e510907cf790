"""The last reconcile pass's report, kept in Redis for the status page.

One small JSON value, overwritten by every pass (whichever scheduler leads,
and ``flask reconcile``). It is a convenience, not a record: if Redis is
flushed, the last reconcile is simply unknown until the next pass writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis

KEY = "almanac:last-reconcile"


@dataclass(frozen=True)
class ReconcileReport:
    """When the last pass ended and what it changed (kind of change → count)."""

    at: datetime
    changes: dict[str, int]


def record_reconcile(redis: Redis, at: datetime, changes: dict[str, int]) -> None:
    """Keep this pass as the last one (one SET; nothing else in Redis is touched)."""
    counts = {kind: int(n) for kind, n in changes.items()}
    body = {"at": at.astimezone(UTC).isoformat(), "changes": counts}
    redis.set(KEY, json.dumps(body, sort_keys=True))


def last_reconcile(redis: Redis) -> ReconcileReport | None:
    """The last pass recorded, or None when none is known (never run, Redis flushed, garbled)."""
    raw = redis.get(KEY)
    if raw is None:
        return None
    try:
        body = json.loads(raw)
        at = datetime.fromisoformat(body["at"])
        changes = {str(k): int(v) for k, v in body["changes"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if at.tzinfo is None:
        return None
    return ReconcileReport(at=at, changes=changes)


__all__ = ["KEY", "ReconcileReport", "last_reconcile", "record_reconcile"]
