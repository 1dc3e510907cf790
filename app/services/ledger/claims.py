"""Claiming due rows of a work table so that concurrent processes never take the same row.

One statement for both databases: ``WITH picked AS MATERIALIZED (<due rows,
oldest first, LIMIT n>) UPDATE … SET status = <claimed> WHERE id IN (SELECT
id FROM picked) AND status = <due> RETURNING id``.

- The batch is picked once. Written as ``WHERE id IN (<subquery LIMIT n>)``,
  PostgreSQL may run the subquery again for the rows it updates (a semi-join
  rescanned per row), and with ``SKIP LOCKED`` each run skips the rows the
  previous ones locked: one claim took all 200 due rows with a batch of 25.
  A materialised CTE is evaluated exactly once.
- PostgreSQL: the picking SELECT takes ``FOR UPDATE SKIP LOCKED``, so two
  claimers pick disjoint rows without waiting on each other; the outer
  ``status`` check is re-evaluated on the locked row (READ COMMITTED).
- SQLite has no row locks (the clause is not rendered): writers are
  serialised by the database lock and the statement is the conditional update
  — a row already claimed no longer has the due status, so it is not updated
  and not returned.

Only the ids RETURNING gives back belong to the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, select, update

from app.extensions import DbSession


def claim(
    session: DbSession,
    candidates: Select[Any],
    model: Any,
    due_status: str | Sequence[str],
    values: dict[str, Any],
) -> list[uuid.UUID]:
    """Update the candidate rows that still have ``due_status``; return the ids taken.

    ``candidates`` selects ``model.id`` (with its filters, order and limit);
    the caller commits.
    """
    picked = (
        candidates.with_for_update(skip_locked=True, of=model)
        .cte("picked")
        .prefix_with("MATERIALIZED")  # evaluated once: the batch is the limit
    )
    statuses = [due_status] if isinstance(due_status, str) else list(due_status)
    statement = (
        update(model)
        .where(model.id.in_(select(picked.c[0])), model.status.in_(statuses))
        .values(**values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return list(session.execute(statement).scalars())


def by_ids(model: Any, ids: Iterable[uuid.UUID]) -> ColumnElement[bool]:
    """SQL: the row is one of ``ids``."""
    column: Any = model.id
    return column.in_(list(ids))  # type: ignore[no-any-return]
