"""Keyset paging: opaque cursors over a (timestamp, id) sort key, newest first.

A page is read as "the next ``limit`` rows before this key" on an index of
(timestamp, id), so a deep page costs what the first does; ties on the
timestamp are broken by id. The cursor names the order it belongs to, so a
cursor of one read is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_

from app.extensions import DbSession
from app.services.errors import Invalid
from app.services.paging import Page

T = TypeVar("T")
MAX_LIMIT = 500


def check_limit(limit: int) -> None:
    """Invalid unless 1 <= limit <= MAX_LIMIT."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}.", {"limit": "out of range"})


def encode(kind: str, when: datetime, row_id: uuid.UUID) -> str:
    """The cursor after a row whose sort key is (when, row_id)."""
    payload = json.dumps({"k": kind, "t": when.isoformat(), "i": str(row_id)})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode(cursor: str, kind: str) -> tuple[datetime, uuid.UUID]:
    """The sort key a cursor stands for; Invalid when it was not made by this read."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data: Any = json.loads(raw)
        when, row_id = datetime.fromisoformat(data["t"]), uuid.UUID(data["i"])
        ok = data["k"] == kind and when.tzinfo is not None
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise Invalid("The cursor is not valid for this read.", {"cursor": "invalid"})
    return when, row_id


def newest_first(
    query: Select[T], time_column: Any, id_column: Any, kind: str, cursor: str | None, limit: int
) -> Select[T]:
    """``query`` ordered newest first on (time, id), after ``cursor``, at most ``limit`` rows."""
    if cursor is not None:
        when, row_id = decode(cursor, kind)
        query = query.where(tuple_(time_column, id_column) < (when, row_id))
    return query.order_by(time_column.desc(), id_column.desc()).limit(limit)


def page(
    session: DbSession,
    query: Select[T],
    limit: int,
    key: Callable[[T], tuple[datetime, uuid.UUID]],
    kind: str,
) -> Page[T]:
    """Run a ``newest_first`` query built for ``limit + 1`` rows; ``key(row)`` is its sort key."""
    rows: Sequence[T] = session.scalars(query).all()
    items, more = list(rows[:limit]), len(rows) > limit
    cursor = encode(kind, *key(items[-1])) if more else None
    return Page(items, has_more=more, next_cursor=cursor)
