"""Cron fields read as crontab(5) reads them (issue 17): equal ranges, the day rule, validation.

Expected times are worked out by hand from crontab(5) and SPEC §4.2, with the weekday of
each date noted, so a regression in croniter or in the translation shows up here.
"""

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from app import cronfields
from app.timemath import CronTrigger, ScheduleError, fire_times, parse_trigger

LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
CHATHAM = ZoneInfo("Pacific/Chatham")


def cron(expression: str) -> CronTrigger:
    """A validated cron trigger."""
    trigger = parse_trigger("cron", {"expression": expression})
    assert isinstance(trigger, CronTrigger)
    return trigger


def wall(expression: str, zone: str, after: str, count: int) -> list[str]:
    """The next fire times after local ``after`` as local "YYYY-MM-DD HH:MM" strings."""
    tz = ZoneInfo(zone)
    start = datetime.fromisoformat(after).replace(tzinfo=tz)
    times = fire_times(cron(expression), tz, start, count)
    return [t.astimezone(tz).strftime("%Y-%m-%d %H:%M") for t in times]


def utc_times(expression: str, tz: ZoneInfo, after: str, count: int) -> list[str]:
    """The next fire times after UTC ``after`` as UTC "YYYY-MM-DD HH:MM" strings."""
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    return [t.strftime("%Y-%m-%d %H:%M") for t in fire_times(cron(expression), tz, start, count)]


def debian(expression: str, tz: ZoneInfo, after: str, count: int) -> list[str]:
    """What Debian cron's rules (cronsim) give, in the same format as ``utc_times``."""
    start = datetime.fromisoformat(after).replace(tzinfo=UTC).astimezone(tz)
    times = CronSim(expression, start)
    return [next(times).astimezone(UTC).strftime("%Y-%m-%d %H:%M") for _ in range(count)]


# --- 1. a range whose two ends are equal is that one value ---------------------------------


def test_equal_minute_range_fires_once_a_day_in_chatham():
    # Was every minute from 02:00 to 02:59 (croniter reads 4-4 as *).
    assert wall("4-4 2 * * *", "Pacific/Chatham", "2026-06-01T00:00", 3) == [
        "2026-06-01 02:04",
        "2026-06-02 02:04",
        "2026-06-03 02:04",
    ]


def test_equal_month_range_means_that_month_only():
    times = wall("49-52 6,16,22 * 12-12 *", "Europe/London", "2026-03-01T00:00", 5)
    assert times == [
        "2026-12-01 06:49",
        "2026-12-01 06:50",
        "2026-12-01 06:51",
        "2026-12-01 06:52",
        "2026-12-01 16:49",
    ]


def test_equal_minute_range_with_hour_range_and_weekday():
    # 2026-01-01 is a Thursday; the first Wednesday is the 7th.
    assert wall("55-55 1-3 * * 3", "UTC", "2026-01-01T00:00", 4) == [
        "2026-01-07 01:55",
        "2026-01-07 02:55",
        "2026-01-07 03:55",
        "2026-01-14 01:55",
    ]


def test_equal_weekday_range_means_that_weekday():
    # From Friday 2 January: every minute of 03:xx on Thursdays, the 8th then the 15th.
    times = wall("* 3 * * 4-4", "UTC", "2026-01-02T00:00", 61)
    assert times[0] == "2026-01-08 03:00"
    assert times[59] == "2026-01-08 03:59"
    assert times[60] == "2026-01-15 03:00"


def test_equal_ranges_with_steps_are_single_values():
    assert wall("59-59/1 4-4/2 * * *", "UTC", "2026-01-01T00:00", 3) == [
        "2026-01-01 04:59",
        "2026-01-02 04:59",
        "2026-01-03 04:59",
    ]


def test_equal_month_range_with_step_is_may_only():
    times = wall("* 0-3 * 5-5/3 *", "UTC", "2026-01-01T00:00", 241)
    assert times[0] == "2026-05-01 00:00"
    assert times[239] == "2026-05-01 03:59"
    assert times[240] == "2026-05-02 00:00"
    assert wall("* 0-3 * 5-5/3 *", "UTC", "2026-05-31T03:59", 1) == ["2027-05-01 00:00"]


def test_monday_only_job_written_as_equal_range():
    # Was every day: 5, 12 and 19 January 2026 are Mondays.
    assert wall("0 9 * * 1-1", "UTC", "2026-01-01T00:00", 3) == [
        "2026-01-05 09:00",
        "2026-01-12 09:00",
        "2026-01-19 09:00",
    ]


def test_equal_minute_range_is_once_an_hour_not_every_minute():
    assert wall("5-5 9 * * *", "UTC", "2026-01-01T00:00", 2) == [
        "2026-01-01 09:05",
        "2026-01-02 09:05",
    ]


@pytest.mark.parametrize(
    ("expression", "first"),
    [
        ("0 0 1 jan-jan *", "2027-01-01 00:00"),
        ("0 0 * * sun-sun", "2026-01-04 00:00"),
        ("0 0 * * 7-7", "2026-01-04 00:00"),
        ("30-30 0-0 1-1 * *", "2026-01-01 00:30"),
        ("10-10 * * * * *", "2026-01-01 00:00"),
    ],
)
def test_equal_ranges_in_every_field_and_with_names(expression, first):
    assert wall(expression, "UTC", "2026-01-01T00:00", 1) == [first]


def test_six_field_equal_second_range_is_one_second_a_minute():
    tz = ZoneInfo("UTC")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = fire_times(cron("10-10 * * * * *"), tz, start, 3)
    assert [t.strftime("%H:%M:%S") for t in times] == ["00:00:10", "00:01:10", "00:02:10"]


def test_stored_expression_keeps_what_the_user_wrote():
    assert cron("4-4  2 * * *").expression == "4-4 2 * * *"


def test_step_over_a_single_hour_is_a_fixed_hour_not_clock_following():
    # 4-4/2 is hour 4; fixed hours fire once in a repeated hour (SPEC §4.2).
    assert not cronfields.parse("0 4-4/2 * * *").follows_clock
    assert not cronfields.parse("0 23/2 * * *").follows_clock
    assert cronfields.parse("0 1-5/2 * * *").follows_clock
    assert cronfields.parse("0 */3 * * *").follows_clock


# --- 2. the crontab(5) day rule -------------------------------------------------------------


def test_star_step_day_field_is_anded_with_weekdays_in_tehran():
    # 21 March 2028 is a Tuesday but not day 1, 15 or 29; the 29th is a Wednesday.
    times = wall("* 3 */14 * 2-6", "Asia/Tehran", "2028-03-20T00:00", 61)
    assert times[0] == "2028-03-29 03:00"
    assert times[59] == "2028-03-29 03:59"
    assert times[60] == "2028-04-01 03:00"  # a Saturday


def test_both_day_fields_restricted_are_ored():
    # Day 1 or 15, or any Monday: Thu 1, Mon 5, Mon 12, Thu 15, Mon 19 January 2026.
    assert [t[:10] for t in wall("0 0 1,15 * 1", "UTC", "2025-12-31T12:00", 5)] == [
        "2026-01-01",
        "2026-01-05",
        "2026-01-12",
        "2026-01-15",
        "2026-01-19",
    ]


@pytest.mark.parametrize(
    ("expression", "days"),
    [
        # Unrestricted dom (? or a leading *) leaves only the weekday: Mondays.
        ("0 0 ? * 1", ["2026-01-05", "2026-01-12"]),
        ("0 0 */1 * 1", ["2026-01-05", "2026-01-12"]),
        # A restricted dom that happens to hold every day, OR-ed with Monday: every day.
        ("0 0 1-31 * 1", ["2026-01-02", "2026-01-03"]),
        # dow */2 (Sun, Tue, Thu, Sat) is unrestricted, so it is AND-ed with day 1.
        ("0 0 1 * */2", ["2026-02-01", "2026-03-01"]),
        # OR with day 30: every Monday in February, and 30 February never comes.
        ("0 0 30 2 1", ["2026-02-02", "2026-02-09"]),
        # */30 is days 1 and 31, AND-ed with Monday, in February: 1 Feb 2027, then 2038.
        ("0 0 */30 2 1", ["2027-02-01", "2038-02-01"]),
    ],
)
def test_day_rule_follows_crontab5(expression, days):
    assert [t[:10] for t in wall(expression, "UTC", "2026-01-01T00:00", 2)] == days


def test_expression_that_never_fires_under_the_and_rule_is_refused():
    with pytest.raises(ScheduleError, match="never matches") as caught:
        cron("0 0 30 2 */2")
    assert "both day-of-month and day-of-week" in caught.value.message
    with pytest.raises(ScheduleError, match="never matches") as caught:
        cron("0 0 30 2 *")
    assert "both" not in caught.value.message


@pytest.mark.parametrize(
    ("expression", "first"),
    [
        ("0 0 L * */2", "2026-01-31"),  # last day AND Sun/Tue/Thu/Sat: Saturday 31st
        ("0 0 */2 * L5", "2026-02-27"),  # odd day AND last Friday (30 Jan is even)
        ("0 0 */5 * 1#2", "2026-05-11"),  # day 1,6,..,31 AND second Monday
        ("0 0 L * 1", "2026-01-05"),  # last day OR Monday
        ("0 0 * * 5L", "2026-01-30"),  # last Friday, Quartz spelling
        ("0 0 15W * *", "2026-01-15"),
    ],
)
def test_last_nearest_and_nth_day_tokens(expression, first):
    assert wall(expression, "UTC", "2026-01-01T00:00", 1)[0][:10] == first


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 5-3 * * *", "runs backwards"),
        ("0 0 * * 5-1", "runs backwards"),
        ("*/0 * * * *", "1 or more"),
        ("1-5/0 * * * *", "1 or more"),
        ("0 0 * * 1/2", "with an end"),
        ("0 0 L,15 * *", "stand alone"),
        ("0 0 LW * *", "stand alone"),
        ("0 0 * * L", "stand alone"),
        ("0 0 1 * 1#2", "either one"),
        ("0 0 15W * 1", "either one"),
        ("0 0 1 * 5L", "either one"),
        ("? * * * *", "only in the day fields"),
        ("0 0 * * 8", "out of range"),
        ("0 0 0 * *", "out of range"),
        ("0 0 * * 1#6", "1 to 5"),
        ("0 0 * foo *", "Cannot read"),
        ("0 0 * * 1--2", "Cannot read"),
        ("0 0 * * 1,", "Cannot read"),
        ("0 0 * * 5-MON", "runs backwards"),
    ],
)
def test_expressions_cron_or_croniter_would_misread_are_refused(expression, words):
    with pytest.raises(ScheduleError, match=words) as caught:
        cron(expression)
    assert caught.value.field == "expression"


@pytest.mark.parametrize(
    "expression",
    ["0 0 * JAN MON", "0 0 * * mon-fri", "5/20 * * * *", "59/15 * * * *", "0 0 * * 0-7/2"],
)
def test_names_and_start_steps_are_accepted(expression):
    assert cron(expression).expression == expression


def test_start_with_step_runs_to_the_field_end():
    assert wall("50/5 0 * * *", "UTC", "2026-01-01T00:00", 3) == [
        "2026-01-01 00:50",
        "2026-01-01 00:55",
        "2026-01-02 00:50",
    ]


# --- 3. deliberate differences from Debian cron (SPEC §4.2) --------------------------------


def test_fixed_hour_step_minute_fires_once_in_a_repeated_hour():
    # London falls back on 25 Oct 2026: 01:xx happens at 00:xx UTC (BST), then 01:xx UTC.
    ours = utc_times("*/13 1 * * *", LONDON, "2026-10-24T23:30", 6)
    assert ours == [
        "2026-10-25 00:00",
        "2026-10-25 00:13",
        "2026-10-25 00:26",
        "2026-10-25 00:39",
        "2026-10-25 00:52",
        "2026-10-26 01:00",
    ]
    # Debian cron follows the clock here and runs the 01:xx minutes twice.
    assert debian("*/13 1 * * *", LONDON, "2026-10-24T23:30", 6)[5] == "2026-10-25 01:00"


def test_fixed_hour_step_minute_fires_once_at_the_end_of_a_skipped_hour():
    # London springs forward on 29 Mar 2026: 01:00 GMT becomes 02:00 BST at 01:00 UTC.
    ours = utc_times("*/13 1 * * *", LONDON, "2026-03-28T23:30", 2)
    assert ours == ["2026-03-29 01:00", "2026-03-30 00:00"]
    assert debian("*/13 1 * * *", LONDON, "2026-03-28T23:30", 1) == ["2026-03-30 00:00"]


def test_fixed_hour_every_minute_once_per_local_minute_across_fall_back():
    times = utc_times("* 1 * * *", LONDON, "2026-10-24T23:30", 61)
    assert times[0] == "2026-10-25 00:00"
    assert times[59] == "2026-10-25 00:59"
    assert times[60] == "2026-10-26 01:00"
    assert debian("* 1 * * *", LONDON, "2026-10-24T23:30", 61)[60] == "2026-10-25 01:00"


def test_fixed_hour_every_minute_collapses_into_the_gap_end():
    assert utc_times("* 1 * * *", LONDON, "2026-03-28T23:30", 2) == [
        "2026-03-29 01:00",
        "2026-03-30 00:00",
    ]


def test_lord_howe_half_hour_gap_and_fold():
    # 4 Oct 2026: 02:00 (+10:30) jumps to 02:30 (+11) at 15:30 UTC on the 3rd.
    assert utc_times("15 2 * * *", LORD_HOWE, "2026-10-02T00:00", 3) == [
        "2026-10-02 15:45",
        "2026-10-03 15:30",
        "2026-10-04 15:15",
    ]
    # 5 Apr 2026: 02:00 (+11) falls back to 01:30 (+10:30); 01:45 first happens at 14:45 UTC.
    assert utc_times("45 1 * * *", LORD_HOWE, "2026-04-04T00:00", 2) == [
        "2026-04-04 14:45",
        "2026-04-05 15:15",
    ]
    # Hourly-and-more-often jobs follow the clock: 01:40 comes twice, 02:00 and 02:20
    # are skipped in spring.
    assert utc_times("*/20 * * * *", LORD_HOWE, "2026-04-04T13:50", 5) == [
        "2026-04-04 14:00",
        "2026-04-04 14:20",
        "2026-04-04 14:40",
        "2026-04-04 15:10",
        "2026-04-04 15:30",
    ]
    assert utc_times("*/20 * * * *", LORD_HOWE, "2026-10-03T15:00", 2) == [
        "2026-10-03 15:10",
        "2026-10-03 15:40",
    ]


def test_chatham_quarter_hour_zone_gap_and_fold():
    # 27 Sep 2026: 02:45 (+12:45) jumps to 03:45 (+13:45) at 14:00 UTC on the 26th.
    assert utc_times("0 3 * * *", CHATHAM, "2026-09-25T12:00", 3) == [
        "2026-09-25 14:15",
        "2026-09-26 14:00",
        "2026-09-27 13:15",
    ]
    # 5 Apr 2026: 03:45 (+13:45) falls back to 02:45 (+12:45); 03:00 first at 13:15 UTC.
    assert utc_times("0 3 * * *", CHATHAM, "2026-04-04T00:00", 2) == [
        "2026-04-04 13:15",
        "2026-04-05 14:15",
    ]


def test_times_are_utc_and_increasing_across_the_chatham_fold():
    times = fire_times(cron("*/30 * * * *"), CHATHAM, datetime(2026, 4, 4, 12, 0, tzinfo=UTC), 8)
    assert all(b - a == timedelta(minutes=30) for a, b in pairwise(times))
