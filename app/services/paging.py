"""Paging and searching: one ``Page`` type for every paged read; a case-insensitive contains."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func

from app.extensions import DbSession

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a read: its items, and either the total or whether more follow.

    Offset pages know ``total``; keyset pages (deep history) know only
    ``has_more`` and the ``next_cursor`` to continue from.
    """

    items: list[T]
    total: int | None = None
    has_more: bool = False
    next_cursor: str | None = None


def page_of(
    session: DbSession, query: Select[Any], order: tuple[Any, ...], page: int, per_page: int
) -> Page[Any]:
    """The rows of page ``page`` (1-based) in ``order``, and how many rows match in all."""
    # maintain_column_froms: a query with no WHERE would otherwise count without a FROM.
    counting = query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    total = int(session.scalar(counting) or 0)
    rows = session.scalars(query.order_by(*order).offset((page - 1) * per_page).limit(per_page))
    items = list(rows.all())
    return Page(items, total, has_more=page * per_page < total)


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """SQL: ``column`` contains ``text``, ignoring case; ``%`` and ``_`` match themselves."""
    pattern = "%" + text.lower().replace("%", r"\%").replace("_", r"\_") + "%"
    return func.lower(column).like(pattern, escape="\\")
