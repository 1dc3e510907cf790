"""The calendar's counting shortcut for every-day cron rules equals the engine's own times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.services.calendar import repeat
from app.services.calendar.window import window_for
from app.services.scheduling import schedule

BEFORE = datetime(2027, 1, 2, tzinfo=UTC)
_EPSILON = timedelta(microseconds=1)

# (job zone, display zone, a day in the month shown): US and EU DST days, Lord Howe's
# half hour, Morocco's Ramadan change, and zones that differ from the display's.
CASES = [
    ("America/New_York", "America/New_York", date(2027, 3, 14)),
    ("America/New_York", "Europe/London", date(2027, 3, 20)),
    ("Europe/London", "America/New_York", date(2027, 10, 30)),
    ("America/New_York", "UTC", date(2027, 11, 7)),
    ("Australia/Lord_Howe", "Australia/Lord_Howe", date(2027, 4, 4)),
    ("UTC", "Australia/Lord_Howe", date(2027, 10, 3)),
    ("Africa/Casablanca", "UTC", date(2027, 2, 14)),
]
RULES = ("*/20 * * * *", "15,45 1-3 * * *")


@pytest.mark.parametrize(("job_zone", "display", "day"), CASES)
def test_every_day_rule_times_equal_the_engine(editor, make_job, job_zone, display, day):
    window = window_for("month", day, ZoneInfo(display), 6)
    for now in (BEFORE, window.start + timedelta(days=3, hours=7, minutes=5)):
        after, until = max(now, window.start - _EPSILON), window.end - _EPSILON
        for expression in RULES:
            config = {"expression": expression}
            job = make_job(editor, name=f"{expression} {now}", now=BEFORE, job_type="cron",
                           schedule_config=config, timezone=job_zone)  # fmt: skip
            assert repeat.every_day(job, after, until)
            found = repeat.day_times(job, window, (after, until), 10**6, dense_after=0)
            engine = schedule.upcoming(job, after, 10**6, until)
            assert found.times == engine
            assert found.computed < len(engine) // 4  # the shortcut did the most of it
            for slice_day, (low, high) in found.days.items():
                assert {window.day_of(t) for t in found.times[low:high]} == {slice_day}
            assert sum(high - low for low, high in found.days.values()) == len(engine)


def test_a_listed_rule_is_computed_by_the_engine_alone(editor, make_job):
    job = make_job(editor, now=BEFORE, job_type="cron",
                   schedule_config={"expression": "0 * * * *"})  # fmt: skip
    window = window_for("month", date(2027, 3, 1), ZoneInfo("UTC"), 6)
    span = (window.start - _EPSILON, window.end - _EPSILON)
    found = repeat.day_times(job, window, span, 10**6, dense_after=24)
    assert found.times == schedule.upcoming(job, span[0], 10**6, span[1])
    assert found.computed == len(found.times) and not found.dense


def test_restricted_days_and_cutting_dates_are_not_every_day(editor, make_job):
    after, until = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
    weekly = make_job(editor, name="weekly", now=BEFORE, job_type="cron",
                      schedule_config={"expression": "0 * * * 1"})  # fmt: skip
    monthly = make_job(editor, name="monthly", now=BEFORE, job_type="cron",
                       schedule_config={"expression": "0 * * 3 *"})  # fmt: skip
    ending = make_job(editor, name="ending", now=BEFORE, job_type="cron",
                      schedule_config={"expression": "0 * * * *"},
                      end_date=datetime(2027, 3, 15, tzinfo=UTC))  # fmt: skip
    assert not any(repeat.every_day(job, after, until) for job in (weekly, monthly, ending))


def test_the_budget_caps_what_the_engine_computes(editor, make_job):
    job = make_job(editor, now=BEFORE, job_type="cron",
                   schedule_config={"expression": "* * * * *"})  # fmt: skip
    window = window_for("week", date(2027, 3, 1), ZoneInfo("UTC"), 6)
    span = (window.start - _EPSILON, window.end - _EPSILON)
    found = repeat.day_times(job, window, span, 100, dense_after=4)
    assert found.capped and found.computed == 100 and len(found.times) == 100
