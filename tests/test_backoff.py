"""The retry delay (SPEC §4.7): exact values per policy, and properties that hold for all."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.backoff import base_delay, retry_delay
from app.models import Backoff

POLICIES = st.sampled_from(list(Backoff))
DELAYS = st.integers(min_value=0, max_value=86400)
CAPS = st.integers(min_value=0, max_value=604800)
RETRIES = st.integers(min_value=1, max_value=100)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("fixed", [60, 60, 60, 60, 60]),
        ("linear", [60, 120, 180, 240, 300]),
        ("exponential", [60, 120, 240, 480, 960]),
    ],
)
def test_each_policy_grows_as_the_spec_says(policy, expected):
    assert [base_delay(policy, n, 60, 3600) for n in range(1, 6)] == expected


def test_the_cap_bounds_every_policy():
    assert base_delay("exponential", 10, 60, 3600) == 3600  # 60·2^9 = 30720
    assert base_delay("linear", 100, 60, 3600) == 3600
    assert base_delay("fixed", 1, 7200, 3600) == 3600


def test_a_huge_retry_number_does_not_overflow():
    assert base_delay("exponential", 100_000, 86400, 604800) == 604800


def test_retry_numbers_start_at_one():
    with pytest.raises(ValueError, match="retry number"):
        base_delay("fixed", 0, 60, 3600)


@given(POLICIES, DELAYS, CAPS, RETRIES)
def test_delay_never_shrinks_from_one_retry_to_the_next(policy, delay, cap, n):
    assert base_delay(policy, n, delay, cap) <= base_delay(policy, n + 1, delay, cap)


@given(POLICIES, DELAYS, CAPS, RETRIES)
def test_delay_before_jitter_never_exceeds_the_cap(policy, delay, cap, n):
    assert 0 <= base_delay(policy, n, delay, cap) <= cap


@given(POLICIES, DELAYS, CAPS, RETRIES, st.integers(min_value=0, max_value=3600), st.integers())
def test_jitter_stays_within_its_bounds(policy, delay, cap, n, jitter, seed):
    base = base_delay(policy, n, delay, cap)
    value = retry_delay(policy, n, delay, cap, jitter, random.Random(seed))
    assert base <= value <= base + jitter


def test_jitter_spreads_the_delays():
    rng = random.Random(7)
    values = {retry_delay("fixed", 1, 10, 100, 30, rng) for _ in range(50)}
    assert len(values) > 40 and min(values) >= 10 and max(values) <= 40


def test_no_jitter_means_the_exact_delay():
    assert retry_delay("exponential", 3, 1, 3600) == 4.0
