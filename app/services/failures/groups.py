"""The failed-tasks page's two reads beyond the list: failures grouped by cause, and one
failure's attempts with the backoff before each.

Groups are counted in SQL on ``RetryItem.error_group`` (kept by the model on
every change of ``last_error``), so a thousand failures of one cause cost one
aggregate row, not a thousand rows read into Python.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.errorgroups import split_type
from app.extensions import DbSession
from app.models import Execution, RetryItem, User
from app.services.failures.filters import RetryFilters, filtered
from app.services.ledger import executions

MAX_GROUPS = 100
MAX_CHAIN = 100  # attempts followed back from one failure (retry_count is far lower)


@dataclass(frozen=True)
class ErrorGroup:
    """Failures sharing an error key: how many, the newest and the oldest.

    No sample message: ``min(last_error)`` over 100,000 items made the
    aggregate take 65 ms instead of 38 (EXPLAIN ANALYZE); "Show N" lists them.
    """

    key: str | None
    count: int
    newest: datetime
    oldest: datetime

    @property
    def kind(self) -> str:
        """The exception type ("RuntimeError"), or "" when the message names none."""
        return split_type(self.key)[0]

    @property
    def message(self) -> str:
        """The normalised message without its type."""
        return split_type(self.key)[1]


def error_groups(
    session: DbSession, user: User, filters: RetryFilters, limit: int = MAX_GROUPS
) -> list[ErrorGroup]:
    """The largest groups among the items matching ``filters``, biggest first."""
    count = func.count(RetryItem.id)
    query = (
        filtered(user, filters)
        .with_only_columns(
            RetryItem.error_group,
            count,
            func.max(RetryItem.created_at),
            func.min(RetryItem.created_at),
        )
        .group_by(RetryItem.error_group)
        .order_by(count.desc(), RetryItem.error_group)
        .limit(limit)
    )
    return [ErrorGroup(*row) for row in session.execute(query)]


@dataclass(frozen=True)
class Attempt:
    """One run of a failure's chain and the retry item it left (None for the last, if it ran)."""

    run: Execution
    item: RetryItem | None

    @property
    def backoff_seconds(self) -> float | None:
        """How long the next attempt was set to wait after this one failed."""
        if self.item is None:
            return None
        return max((self.item.next_try_at - self.item.created_at).total_seconds(), 0.0)


def attempts(session: DbSession, user: User, item: RetryItem) -> list[Attempt]:
    """Every attempt of the run ``item`` retries, first to last, each with its backoff."""
    chain: list[Execution] = []
    run: Execution | None = item.execution
    while run is not None and len(chain) < MAX_CHAIN:
        chain.append(run)
        run = executions.get_execution(session, user, run.retry_of) if run.retry_of else None
    chain.reverse()
    if item.retry_execution_id is not None:
        chain.append(executions.get_execution(session, user, item.retry_execution_id))
    ids: list[uuid.UUID] = [row.id for row in chain]
    items = session.scalars(select(RetryItem).where(RetryItem.execution_id.in_(ids)))
    by_run = {row.execution_id: row for row in items}
    return [Attempt(row, by_run.get(row.id)) for row in chain]


__all__ = ["Attempt", "ErrorGroup", "attempts", "error_groups"]
