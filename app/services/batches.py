"""Chunking: long id lists go to the database (IN lists, bulk inserts) in bounded pieces."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

# Rows per IN list: well inside every driver's parameter limit (SQLite: 32,766).
IN_CHUNK = 1000


def chunks(items: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """Successive lists of at most ``size`` items, in order; nothing for no items."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
