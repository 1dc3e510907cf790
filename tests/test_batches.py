"""The one chunking helper behind every bounded IN list and bulk write."""

from __future__ import annotations

import pytest

from app import __version__
from app.services.batches import chunks
from app.version import __version__ as version


def test_chunks_keep_order_and_bound_size():
    assert list(chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks(iter("ab"), 5)) == [["a", "b"]]


def test_no_items_make_no_chunk():
    assert list(chunks([], 3)) == []


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        list(chunks([1], 0))


def test_version_lives_in_a_leaf_module_and_is_re_exported():
    assert __version__ == version
