"""Error groups: failures of one cause share a key whatever numbers, ids or values they carry."""

from __future__ import annotations

import pytest

from app.errorgroups import group_key, split_type
from app.models import RetryItem


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("TimeoutError: read 4312 bytes", "TimeoutError: read 7 bytes"),
        ("KeyError: 'customer-17'", 'KeyError: "other"'),
        (
            "LookupError: no row 3f2a1b4c-1111-2222-3333-444455556666",
            "LookupError: no row 0b0c0d0e-aaaa-bbbb-cccc-ddddeeeeffff",
        ),
        ("MemoryError: at 0x7f3a2b", "MemoryError: at 0xdeadbeef"),
        ("OSError: digest 9f86d081884c7d65 bad", "OSError: digest 2c26b46b68ffc68f bad"),
        ("ConnectionError: 10.0.0.7:5432  refused", "ConnectionError: 10.1.2.3:6543 refused"),
    ],
)
def test_what_varies_is_replaced(first, second):
    assert group_key(first) == group_key(second)


def test_different_causes_stay_apart():
    assert group_key("KeyError: 'a'") != group_key("ValueError: 'a'")
    assert group_key("timed out after 30s") != group_key("cannot run: bad args")


def test_type_and_message_are_split():
    assert split_type(group_key("RuntimeError: bench failure 12")) == (
        "RuntimeError",
        "bench failure <n>",
    )
    assert split_type("timed out after <n>s") == ("", "timed out after <n>s")
    assert group_key(None) is None and group_key("") is None
    assert len(group_key("x" * 5000) or "") == 255


def test_the_item_keeps_its_key_on_every_change_of_the_error():
    item = RetryItem(last_error="KeyError: 'a'")
    assert item.error_group == "KeyError: '…'"
    item.last_error = "given up: no free instance within 60s; KeyError: 'a'"
    assert item.error_group == "given up: no free instance within <n>s; KeyError: '…'"
