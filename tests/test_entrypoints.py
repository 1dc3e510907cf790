"""A run's database steps wait out a database that is briefly away, and only that."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from app import entrypoints


class Flaky:
    """A step that fails ``times`` times with ``error``, then returns "done"."""

    def __init__(self, times, error):
        self.times, self.error, self.calls = times, error, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return "done"


def gone():
    return OperationalError("SELECT 1", {}, Exception("server closed the connection"))


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Sleeping moves a fake clock: the waits are counted, not slept."""
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(entrypoints.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(entrypoints.time, "sleep", sleep)
    return slept


def test_a_step_is_tried_again_while_the_database_is_away(app, clock):
    step = Flaky(3, gone())
    assert entrypoints._patiently("claim the run", step) == "done"
    assert step.calls == 4
    assert clock == [0.5, 1.0, 2.0]


def test_a_database_that_stays_away_reaches_rq(app, clock):
    step = Flaky(10, gone())
    with pytest.raises(OperationalError):
        entrypoints._patiently("claim the run", step)
    assert clock == [0.5, 1.0, 2.0, 4.0, 8.0]  # 15.5 s; the next wait would pass 20 s
    assert step.calls == 6


def test_other_errors_are_not_retried(app):
    step = Flaky(1, IntegrityError("INSERT", {}, Exception("duplicate")))
    with pytest.raises(IntegrityError):
        entrypoints._patiently("claim the run", step)
    assert step.calls == 1


def test_an_outcome_waits_longer_than_a_claim(app, clock):
    step = Flaky(100, gone())
    with pytest.raises(OperationalError):
        entrypoints._patiently("record the outcome", step, entrypoints.OUTCOME_PATIENCE)
    assert sum(clock) <= entrypoints.OUTCOME_PATIENCE and max(clock) == 8.0
    assert sum(clock) > entrypoints.DATABASE_PATIENCE
