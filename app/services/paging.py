"""Paging and searching queries: one page and the total; a case-insensitive contains."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func

from app.extensions import DbSession

T = TypeVar("T")


def page_of(
    session: DbSession, query: Select[T], order: tuple[Any, ...], page: int, per_page: int
) -> tuple[list[T], int]:
    """The rows of page ``page`` (1-based) in ``order``, and how many rows match in all."""
    # maintain_column_froms: a query with no WHERE would otherwise count without a FROM.
    counting = query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    total = session.scalar(counting) or 0
    rows = session.scalars(query.order_by(*order).offset((page - 1) * per_page).limit(per_page))
    return list(rows.all()), int(total)


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """SQL: ``column`` contains ``text``, ignoring case; ``%`` and ``_`` match themselves."""
    pattern = "%" + text.lower().replace("%", r"\%").replace("_", r"\_") + "%"
    return func.lower(column).like(pattern, escape="\\")
