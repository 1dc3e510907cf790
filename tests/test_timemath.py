"""Schedule math: trigger validation and fire times across DST changes (SPEC §4.1-4.2)."""

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.timemath import (
    JOB_TYPES,
    CronTrigger,
    DateTrigger,
    IntervalTrigger,
    ScheduleError,
    fire_times,
    next_fire_time,
    parse_timezone,
    parse_trigger,
    resolve_wall_time,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def utc(text: str) -> datetime:
    """An aware UTC datetime from an ISO string without offset."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, tz: ZoneInfo) -> datetime:
    """An aware datetime for a wall-clock time in ``tz`` (first occurrence if repeated)."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def cron(expression: str) -> CronTrigger:
    """A validated cron trigger."""
    trigger = parse_trigger("cron", {"expression": expression})
    assert isinstance(trigger, CronTrigger)
    return trigger


def offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    """The UTC offset of ``tz`` at ``instant``."""
    return instant.astimezone(tz).utcoffset() or timedelta(0)


def fires_on_local_day(trigger: CronTrigger, tz: ZoneInfo, day: date) -> list[datetime]:
    """All fire times during one local calendar day."""
    start = resolve_wall_time(datetime.combine(day, time()), tz)
    end = resolve_wall_time(datetime.combine(day + timedelta(days=1), time()), tz) - MINUTE
    return fire_times(trigger, tz, start - MINUTE, 1000, start=start, end=end)


# --- DST table ----------------------------------------------------------------------------

DST_CASES = [
    # New York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST.
    (NEW_YORK, "30 2 * * *", "2026-03-07T12:00", ["03-08T07:00", "03-09T06:30", "03-10T06:30"]),
    (NEW_YORK, "*/15 2 * * *", "2026-03-08T00:00", ["03-08T07:00", "03-09T06:00", "03-09T06:15"]),
    (NEW_YORK, "30 1 * * *", "2026-10-31T12:00", ["11-01T05:30", "11-02T06:30", "11-03T06:30"]),
    (NEW_YORK, "*/30 1 * * *", "2026-11-01T00:00", ["11-01T05:00", "11-01T05:30", "11-02T06:00"]),
    (NEW_YORK, "0 9 * * *", "2026-03-07T00:00", ["03-07T14:00", "03-08T13:00", "03-09T13:00"]),
    (NEW_YORK, "0 9 * * *", "2026-10-31T00:00", ["10-31T13:00", "11-01T14:00", "11-02T14:00"]),
    (NEW_YORK, "0 * * * *", "2026-03-08T00:30", ["03-08T06:00", "03-08T07:00", "03-08T08:00"]),
    (NEW_YORK, "0 * * * *", "2026-11-01T00:30", ["11-01T05:00", "11-01T06:00", "11-01T07:00"]),
    (
        NEW_YORK,
        "*/30 * * * *",
        "2026-03-08T00:45",
        ["03-08T06:00", "03-08T06:30", "03-08T07:00", "03-08T07:30"],
    ),
    (
        NEW_YORK,
        "*/30 * * * *",
        "2026-11-01T00:45",
        ["11-01T05:00", "11-01T05:30", "11-01T06:00", "11-01T06:30", "11-01T07:00"],
    ),
    # Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST -> 02:00 CET.
    (BERLIN, "30 2 * * *", "2026-03-28T12:00", ["03-29T01:00", "03-30T00:30", "03-31T00:30"]),
    (BERLIN, "30 2 * * *", "2026-10-24T12:00", ["10-25T00:30", "10-26T01:30", "10-27T01:30"]),
    (BERLIN, "0 9 * * *", "2026-03-28T00:00", ["03-28T08:00", "03-29T07:00", "03-30T07:00"]),
    (BERLIN, "0 9 * * *", "2026-10-24T00:00", ["10-24T07:00", "10-25T08:00", "10-26T08:00"]),
    (BERLIN, "0 * * * *", "2026-03-29T00:30", ["03-29T00:00", "03-29T01:00", "03-29T02:00"]),
    (BERLIN, "0 * * * *", "2026-10-25T01:30", ["10-25T00:00", "10-25T01:00", "10-25T02:00"]),
    (BERLIN, "0 */2 * * *", "2026-03-29T00:30", ["03-29T02:00", "03-29T04:00"]),
    (BERLIN, "0 */2 * * *", "2026-10-25T00:30", ["10-25T00:00", "10-25T01:00", "10-25T03:00"]),
    (BERLIN, "0 0-23/2 * * *", "2026-10-25T00:30", ["10-25T00:00", "10-25T01:00", "10-25T03:00"]),
    (BERLIN, "*/30 * * * *", "2026-03-29T01:15", ["03-29T00:30", "03-29T01:00", "03-29T01:30"]),
    (
        BERLIN,
        "*/30 * * * *",
        "2026-10-25T01:45",
        ["10-25T00:00", "10-25T00:30", "10-25T01:00", "10-25T01:30", "10-25T02:00"],
    ),
]


@pytest.mark.parametrize(("tz", "expression", "after", "expected"), DST_CASES)
def test_cron_fires_at_expected_utc_instants_around_dst(
    tz: ZoneInfo, expression: str, after: str, expected: list[str]
) -> None:
    times = fire_times(cron(expression), tz, local(after, tz), len(expected))
    assert times == [utc(f"2026-{instant}") for instant in expected]


@pytest.mark.parametrize(
    ("tz", "expression", "day", "count"),
    [
        (NEW_YORK, "*/30 * * * *", date(2026, 3, 8), 46),
        (NEW_YORK, "*/30 * * * *", date(2026, 11, 1), 50),
        (NEW_YORK, "*/30 * * * *", date(2026, 6, 1), 48),
        (NEW_YORK, "0 * * * *", date(2026, 3, 8), 23),
        (NEW_YORK, "0 * * * *", date(2026, 11, 1), 25),
        (NEW_YORK, "30 2 * * *", date(2026, 3, 8), 1),
        (NEW_YORK, "30 1 * * *", date(2026, 11, 1), 1),
        (NEW_YORK, "*/10 2 * * *", date(2026, 3, 8), 1),
        (NEW_YORK, "*/10 1 * * *", date(2026, 11, 1), 6),
        (BERLIN, "*/30 * * * *", date(2026, 3, 29), 46),
        (BERLIN, "*/30 * * * *", date(2026, 10, 25), 50),
        (BERLIN, "0 * * * *", date(2026, 3, 29), 23),
        (BERLIN, "0 * * * *", date(2026, 10, 25), 25),
        (BERLIN, "30 2 * * *", date(2026, 3, 29), 1),
        (BERLIN, "30 2 * * *", date(2026, 10, 25), 1),
    ],
)
def test_fire_count_on_dst_change_days(
    tz: ZoneInfo, expression: str, day: date, count: int
) -> None:
    times = fires_on_local_day(cron(expression), tz, day)
    assert len(times) == count
    assert len(set(times)) == count


@pytest.mark.parametrize("tz", [NEW_YORK, BERLIN, LORD_HOWE])
@pytest.mark.parametrize("at", ["00:00", "01:30", "02:00", "02:30", "09:00", "23:59"])
@pytest.mark.parametrize("month", [3, 4, 10, 11])
def test_daily_job_fires_exactly_once_per_local_day(tz: ZoneInfo, at: str, month: int) -> None:
    hour, minute = at.split(":")
    after = local(f"2026-{month:02}-01T00:00", tz) - MINUTE
    times = fire_times(cron(f"{minute} {hour} * * *"), tz, after, 30)
    local_days = [instant.astimezone(tz).date() for instant in times]
    assert local_days == [date(2026, month, day) for day in range(1, 31)]


# --- intervals ----------------------------------------------------------------------------


@pytest.mark.parametrize(("tz", "around"), [(NEW_YORK, "2026-03-08"), (NEW_YORK, "2026-11-01")])
def test_interval_keeps_exact_elapsed_spacing_through_dst(tz: ZoneInfo, around: str) -> None:
    anchor = local(f"{around}T00:00", tz) - timedelta(hours=3)
    times = fire_times(IntervalTrigger(HOUR), tz, anchor, 10, anchor=anchor)
    assert times[0] == anchor + HOUR
    assert all(later - earlier == HOUR for earlier, later in pairwise(times))
    assert all(instant.tzinfo is UTC for instant in times)


def test_interval_counts_from_an_anchor_far_in_the_past() -> None:
    anchor = utc("1970-01-01T00:00:00")
    every = timedelta(seconds=1)
    times = fire_times(IntervalTrigger(every), UTC, utc("2026-05-01T12:00"), 2, anchor=anchor)
    assert times == [utc("2026-05-01T12:00:01"), utc("2026-05-01T12:00:02")]


def test_interval_fires_on_the_anchor_grid() -> None:
    trigger, anchor = IntervalTrigger(timedelta(minutes=90)), utc("2026-01-01T00:00")
    times = fire_times(trigger, UTC, utc("2026-01-01T04:00"), 3, anchor=anchor)
    assert times == [utc("2026-01-01T04:30"), utc("2026-01-01T06:00"), utc("2026-01-01T07:30")]


def test_interval_with_future_anchor_starts_at_the_anchor() -> None:
    anchor = utc("2026-05-01T00:00")
    times = fire_times(IntervalTrigger(HOUR), UTC, utc("2026-01-01T00:00"), 2, anchor=anchor)
    assert times == [anchor, anchor + HOUR]


def test_interval_anchors_on_start_and_stops_at_end() -> None:
    start, end = utc("2026-02-01T00:00:30"), utc("2026-02-03T00:00:30")
    trigger = IntervalTrigger(timedelta(days=1))
    times = fire_times(trigger, UTC, utc("2026-01-01T00:00"), 10, start=start, end=end)
    assert times == [start, start + timedelta(days=1), end]


# --- cron calendar edge cases -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        (UTC, ["2028-02-29T00:00", "2032-02-29T00:00"]),
        (NEW_YORK, ["2028-02-29T05:00", "2032-02-29T05:00"]),
        (BERLIN, ["2028-02-28T23:00", "2032-02-28T23:00"]),
    ],
)
def test_february_29_fires_only_in_leap_years(tz: ZoneInfo, expected: list[str]) -> None:
    times = fire_times(cron("0 0 29 2 *"), tz, utc("2026-01-01T00:00"), 2)
    assert times == [utc(text) for text in expected]


def test_day_31_fires_only_in_months_that_have_one() -> None:
    times = fire_times(cron("0 12 31 * *"), UTC, utc("2026-01-01T00:00"), 7)
    assert [instant.month for instant in times] == [1, 3, 5, 7, 8, 10, 12]
    assert all(instant.day == 31 and instant.hour == 12 for instant in times)


def test_six_field_expression_has_seconds_first() -> None:
    times = fire_times(cron("*/15 * * * * *"), UTC, utc("2026-01-01T00:00"), 5)
    expected = ["00:00:15", "00:00:30", "00:00:45", "00:01:00", "00:01:15"]
    assert times == [utc(f"2026-01-01T{clock}") for clock in expected]


def test_six_field_fixed_hour_fires_in_first_copy_of_repeated_hour() -> None:
    times = fire_times(cron("30 0 1 * * *"), NEW_YORK, local("2026-11-01T00:00", NEW_YORK), 2)
    assert times == [utc("2026-11-01T05:00:30"), utc("2026-11-02T06:00:30")]


def test_daily_alias_expands_to_five_fields() -> None:
    trigger = cron("@DAILY")
    assert trigger == CronTrigger("0 0 * * *")
    assert next_fire_time(trigger, BERLIN, utc("2026-07-01T12:00")) == utc("2026-07-01T22:00")


def test_end_is_inclusive_and_cuts_results() -> None:
    end = utc("2026-01-03T09:00")
    times = fire_times(cron("0 9 * * *"), UTC, utc("2025-12-31T12:00"), 10, end=end)
    assert times == [utc("2026-01-01T09:00"), utc("2026-01-02T09:00"), utc("2026-01-03T09:00")]


def test_start_is_inclusive_and_honoured() -> None:
    start = utc("2026-01-05T09:00")
    times = fire_times(cron("0 9 * * *"), UTC, utc("2025-12-31T12:00"), 2, start=start)
    assert times == [utc("2026-01-05T09:00"), utc("2026-01-06T09:00")]


@pytest.mark.parametrize(
    ("fold", "expected"),
    [
        # 01:15 EDT: the rest of the first copy, then the whole second copy (01:00 EST = 06:00Z).
        (0, ["05:30", "06:00", "06:30", "07:00"]),
        # 01:15 EST: only the rest of the second copy.
        (1, ["06:30", "07:00", "07:30", "08:00"]),
    ],
)
def test_after_inside_repeated_hour_continues_in_utc_order(fold: int, expected: list[str]) -> None:
    after = datetime(2026, 11, 1, 1, 15, fold=fold, tzinfo=NEW_YORK)
    times = fire_times(cron("*/30 * * * *"), NEW_YORK, after, 4)
    assert times == [utc(f"2026-11-01T{clock}") for clock in expected]


def test_zero_count_returns_nothing() -> None:
    assert fire_times(cron("* * * * *"), UTC, utc("2026-01-01T00:00"), 0) == []


def test_naive_bounds_are_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        fire_times(cron("* * * * *"), UTC, datetime(2026, 1, 1), 1)


# --- one-off dates and wall-time resolution -----------------------------------------------


@pytest.mark.parametrize(
    ("run_at", "expected"),
    [
        ("2026-03-08T02:30", "2026-03-08T07:00"),  # skipped: first instant after the gap
        ("2026-11-01T01:30", "2026-11-01T05:30"),  # repeated: first occurrence (EDT)
        ("2026-07-04T09:00:15", "2026-07-04T13:00:15"),
    ],
)
def test_date_trigger_fires_once_at_resolved_wall_time(run_at: str, expected: str) -> None:
    trigger = parse_trigger("date", {"runAt": run_at})
    assert fire_times(trigger, NEW_YORK, utc("2026-01-01T00:00"), 5) == [utc(expected)]


def test_date_trigger_in_the_past_returns_nothing() -> None:
    trigger = DateTrigger(datetime(2026, 1, 1, 9, 0))
    assert fire_times(trigger, UTC, utc("2026-06-01T00:00"), 1) == []
    assert next_fire_time(trigger, UTC, utc("2026-06-01T00:00")) is None


def test_date_trigger_outside_start_end_window_returns_nothing() -> None:
    trigger = DateTrigger(datetime(2026, 1, 1, 9, 0))
    after = utc("2025-01-01T00:00")
    assert fire_times(trigger, UTC, after, 1, end=utc("2025-12-31T00:00")) == []
    assert fire_times(trigger, UTC, after, 1, start=utc("2026-01-02T00:00")) == []


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        ("2026-10-04T02:15", "2026-10-03T15:30"),  # Lord Howe half-hour gap 02:00 -> 02:30
        ("2026-04-05T01:45", "2026-04-04T14:45"),  # Lord Howe repeated 01:30-02:00, +11:00 first
        ("2026-01-15T12:00", "2026-01-15T01:00"),
    ],
)
def test_resolve_wall_time_handles_half_hour_dst(wall: str, expected: str) -> None:
    assert resolve_wall_time(datetime.fromisoformat(wall), LORD_HOWE) == utc(expected)


def test_resolve_wall_time_rejects_aware_input() -> None:
    with pytest.raises(ValueError, match="naive"):
        resolve_wall_time(utc("2026-01-01T00:00"), UTC)


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"weeks": 1, "days": 2}, IntervalTrigger(timedelta(days=9))),
        ({"hours": 2.0}, IntervalTrigger(timedelta(hours=2))),
        ({"days": 366}, IntervalTrigger(timedelta(days=366))),
        ({"seconds": 1, "minutes": 0}, IntervalTrigger(timedelta(seconds=1))),
    ],
)
def test_valid_interval_configs(config: dict[str, object], expected: IntervalTrigger) -> None:
    assert parse_trigger("interval", config) == expected


@pytest.mark.parametrize(
    ("expression", "normalized"),
    [
        ("  0   9\t* * 1-5 ", "0 9 * * 1-5"),
        ("0 0 29 2 *", "0 0 29 2 *"),
        ("0 0 L * *", "0 0 L * *"),
        ("0 8 * JAN-MAR MON", "0 8 * JAN-MAR MON"),
        ("@hourly", "0 * * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
    ],
)
def test_valid_cron_expressions_are_normalized(expression: str, normalized: str) -> None:
    assert cron(expression) == CronTrigger(normalized)


def test_run_at_seconds_are_optional() -> None:
    trigger = parse_trigger("date", {"runAt": "2026-12-01T09:00"})
    assert trigger == DateTrigger(datetime(2026, 12, 1, 9, 0))


@pytest.mark.parametrize(
    ("job_type", "config", "field"),
    [
        ("cron", {"expression": "not a cron"}, "expression"),
        ("cron", {"expression": "61 * * * *"}, "expression"),
        ("cron", {"expression": "* * * * * * *"}, "expression"),
        ("cron", {"expression": "* * * *"}, "expression"),
        ("cron", {"expression": "0 0 30 2 *"}, "expression"),
        ("cron", {"expression": "0 0 31 4,6 *"}, "expression"),
        ("cron", {"expression": "@reboot"}, "expression"),
        ("cron", {"expression": "H * * * *"}, "expression"),
        ("cron", {"expression": "R 0 * * *"}, "expression"),
        ("cron", {"expression": "0 0 * * *\n"}, "expression"),
        ("cron", {"expression": "0 0 * * *\x00"}, "expression"),
        ("cron", {"expression": "0 " * 101}, "expression"),
        ("cron", {"expression": ""}, "expression"),
        ("cron", {"expression": 5}, "expression"),
        ("cron", {}, "expression"),
        ("cron", {"expression": "* * * * *", "tz": "UTC"}, "tz"),
        ("interval", {}, "scheduleConfig"),
        ("interval", {"hours": -1}, "hours"),
        ("interval", {"minutes": True}, "minutes"),
        ("interval", {"hours": 1.5}, "hours"),
        ("interval", {"seconds": "60"}, "seconds"),
        ("interval", {"seconds": None}, "seconds"),
        ("interval", {"fortnights": 1}, "fortnights"),
        ("interval", {"seconds": 0}, "scheduleConfig"),
        ("interval", {"days": 367}, "scheduleConfig"),
        ("interval", {"weeks": 10**30}, "scheduleConfig"),
        ("date", {"runAt": "2026-12-01T09:00:00+01:00"}, "runAt"),
        ("date", {"runAt": "2026-12-01T09:00:00Z"}, "runAt"),
        ("date", {"runAt": "next tuesday"}, "runAt"),
        ("date", {"runAt": "2026-02-30T09:00"}, "runAt"),
        ("date", {"runAt": "2026-12-01"}, "runAt"),
        ("date", {"runAt": 1767258000}, "runAt"),
        ("weekly", {}, "jobType"),
        ("cron", ["* * * * *"], "scheduleConfig"),
        ("cron", None, "scheduleConfig"),
    ],
)
def test_invalid_schedule_names_the_offending_field(
    job_type: str, config: object, field: str
) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_trigger(job_type, config)
    assert caught.value.field == field
    assert caught.value.message.endswith(".")


def test_every_job_type_has_a_parser() -> None:
    samples = {
        "interval": {"hours": 1},
        "cron": {"expression": "* * * * *"},
        "date": {"runAt": "2026-01-01T00:00"},
    }
    kinds = {type(parse_trigger(kind, samples[kind])) for kind in JOB_TYPES}
    assert kinds == {IntervalTrigger, CronTrigger, DateTrigger}


@pytest.mark.parametrize("name", ["UTC", "America/New_York", "Australia/Lord_Howe"])
def test_known_timezones_parse(name: str) -> None:
    assert parse_timezone(name) == ZoneInfo(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Mars/Olympus_Mons",
        "../etc/passwd",
        "/etc/passwd",
        "Europe/Berlin\x00",
        "America",
        "utc",
        "localtime",
        "zone.tab",
        "x" * 500,
        None,
    ],
)
def test_unknown_timezones_are_rejected(name: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_timezone(name)
    assert caught.value.field == "timezone"


# --- properties ---------------------------------------------------------------------------

PROPERTY = settings(max_examples=100, deadline=None, database=None)
ZONE_NAMES = ("UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata")
ZONES = [ZoneInfo(name) for name in ZONE_NAMES]
CronCase = tuple[str, ZoneInfo, datetime, datetime | None, datetime | None]
FIELD_CHOICES = (
    ("*", "*/5", "0", "15,45", "0-30/10"),
    ("*", "*/2", "2", "1,2", "0-3"),
    ("*", "1", "29", "31"),
    ("*", "2", "3,11", "10-12"),
    ("*", "0", "1-5"),
)
FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _transitions(tz: ZoneInfo) -> list[datetime]:
    """The instants in 2025-2028 at which the zone's UTC offset changes."""
    days = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=n) for n in range(4 * 366)]
    found = []
    for low, high in pairwise(days):
        if offset(low, tz) != offset(high, tz):
            while high - low > timedelta(seconds=1):
                middle = low + timedelta(seconds=(high - low) // timedelta(seconds=2))
                low, high = (
                    (low, middle) if offset(middle, tz) != offset(low, tz) else (middle, high)
                )
            found.append(high)
    return found


TRANSITIONS = {tz.key: _transitions(tz) for tz in ZONES}


@st.composite
def instants_for(draw: st.DrawFn, tz: ZoneInfo) -> datetime:
    """Instants in 2025-2028, half of them shortly before or after a DST change in ``tz``."""
    if TRANSITIONS[tz.key] and draw(st.booleans()):
        change = draw(st.sampled_from(TRANSITIONS[tz.key]))
        hours, days = st.integers(-3 * 3600, 3600), st.integers(-3 * 86_400, 86_400)
        return change + timedelta(seconds=draw(hours | days))
    bounds = {"min_value": datetime(2025, 1, 1), "max_value": datetime(2028, 12, 31)}
    return draw(st.datetimes(**bounds, timezones=st.just(UTC)))


@st.composite
def windows(draw: st.DrawFn, tz: ZoneInfo) -> tuple[datetime, datetime | None, datetime | None]:
    """An ``after`` instant with optional start and end bounds near it."""
    after = draw(instants_for(tz))
    start = draw(st.none() | st.integers(-3000, 3000).map(lambda m: after + m * MINUTE))
    floor = after if start is None else max(after, start)
    end = draw(st.none() | st.integers(0, 20_000).map(lambda m: floor + m * MINUTE))
    return after, start, end


@cache
def _field_values(field: str, low: int, high: int) -> frozenset[int]:
    """The integers a cron field of the test grammar selects."""
    values: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        first, _, last = base.partition("-")
        first, last = (low, high) if base == "*" else (int(first), int(last or first))
        values.update(range(first, last + 1, int(step or 1)))
    return frozenset(values)


def _matches(expression: str, wall: datetime) -> bool:
    """Independent cron oracle for the test grammar (Vixie day-of-month/day-of-week OR)."""
    fields = expression.split()
    minute, hour, dom, month, dow = (
        _field_values(field, *limits) for field, limits in zip(fields, FIELD_RANGES, strict=True)
    )
    day_hits = (wall.day in dom, wall.isoweekday() % 7 in dow)
    day_ok = any(day_hits) if "*" not in (fields[2], fields[4]) else all(day_hits)
    clock_ok = wall.second == 0 and wall.minute in minute and wall.hour in hour
    return clock_ok and wall.month in month and day_ok


def _follows_clock(expression: str) -> bool:
    hour = expression.split()[1]
    return "*" in hour or "/" in hour


def _should_fire(expression: str, tz: ZoneInfo, instant: datetime) -> bool:
    """SPEC §4.2 at a whole-minute instant, ignoring gap-end catch-up fires."""
    wall = instant.astimezone(tz).replace(tzinfo=None, fold=0)
    if not _matches(expression, wall):
        return False
    return _follows_clock(expression) or resolve_wall_time(wall, tz) == instant


def _is_gap_catch_up(expression: str, tz: ZoneInfo, instant: datetime) -> bool:
    """Whether ``instant`` ends a DST gap in which a wall time matched ``expression``."""
    jump = offset(instant, tz) - offset(instant - MINUTE, tz)
    wall = instant.astimezone(tz).replace(tzinfo=None)
    skipped = [wall - (n + 1) * MINUTE for n in range(int(jump / MINUTE))]
    return not _follows_clock(expression) and any(_matches(expression, w) for w in skipped)


def _minutes_to_check(first: datetime, span: int, tz: ZoneInfo, data: st.DataObject) -> set[int]:
    """Minute offsets from ``first`` to check: a short stretch fully, else samples + DST days."""
    if span <= 240:
        return set(range(span))
    steps = set(data.draw(st.lists(st.integers(0, span - 1), max_size=40)))
    for change in TRANSITIONS[tz.key]:
        begin = int((change - 3 * HOUR - first) / MINUTE)
        steps.update(range(max(begin, 0), min(begin + 360, span)))
    return steps


@st.composite
def cron_cases(draw: st.DrawFn) -> CronCase:
    """A valid expression from the small grammar, a zone and a window."""
    # Day and month fields are "*" half the time, so DST-change days are not mostly filtered out.
    fields = [st.sampled_from(choices) for choices in FIELD_CHOICES]
    fields[2:] = [st.just("*") | field for field in fields[2:]]
    expression = " ".join(draw(field) for field in fields)
    try:
        cron(expression)
    except ScheduleError:
        assume(False)
    tz = draw(st.sampled_from(ZONES))
    return (expression, tz, *draw(windows(tz)))


@PROPERTY
@given(case=cron_cases(), count=st.integers(1, 20))
def test_cron_results_are_ordered_and_inside_the_window(case: CronCase, count: int) -> None:
    expression, tz, after, start, end = case
    times = fire_times(cron(expression), tz, after, count, start=start, end=end)
    assert all(earlier < later for earlier, later in pairwise(times))
    assert all(instant > after and instant.tzinfo is UTC for instant in times)
    assert start is None or all(instant >= start for instant in times)
    assert end is None or all(instant <= end for instant in times)
    # Fewer results only when `end` cut them or the 30-year scan horizon did (Feb 29 jobs).
    horizon = after + timedelta(days=365 * 25)
    assert len(times) == count or end is not None or times[-1] > horizon


@PROPERTY
@given(case=cron_cases(), count=st.integers(1, 20), data=st.data())
def test_cron_fires_exactly_when_the_local_clock_matches(
    case: CronCase, count: int, data: st.DataObject
) -> None:
    expression, tz, after, start, end = case
    times = fire_times(cron(expression), tz, after, count, start=start, end=end)
    for instant in times:
        assert _should_fire(expression, tz, instant) or _is_gap_catch_up(expression, tz, instant)
    low = after if start is None else max(after, start - timedelta(microseconds=1))
    high = times[-1] if len(times) == count else end
    assume(high is not None and high > low)
    first = low.replace(second=0, microsecond=0) + MINUTE
    span = int((high - first) / MINUTE)
    assume(span > 0)
    for step in _minutes_to_check(first, span, tz, data):
        instant = first + step * MINUTE
        expected = _should_fire(expression, tz, instant) or _is_gap_catch_up(
            expression, tz, instant
        )
        assert (instant in times) == expected, instant


DST_ZONES = [tz for tz in ZONES if TRANSITIONS[tz.key]]


def _change_in(tz: ZoneInfo, data: st.DataObject, *, forward: bool) -> tuple[datetime, timedelta]:
    """A spring-forward (or fall-back) instant in ``tz`` and the size of its jump."""
    jumps = [(t, offset(t, tz) - offset(t - MINUTE, tz)) for t in TRANSITIONS[tz.key]]
    change, jump = data.draw(
        st.sampled_from([(t, j) for t, j in jumps if (j > timedelta(0)) == forward])
    )
    return change, abs(jump)


@PROPERTY
@given(tz=st.sampled_from(DST_ZONES), data=st.data())
def test_fixed_time_in_a_skipped_hour_fires_once_at_the_gap_end(
    tz: ZoneInfo, data: st.DataObject
) -> None:
    change, jump = _change_in(tz, data, forward=True)
    gap_start = change.astimezone(tz).replace(tzinfo=None) - jump
    wall = gap_start + data.draw(st.integers(0, jump // MINUTE - 1)) * MINUTE
    expression = f"{wall.minute} {wall.hour} {wall.day} {wall.month} *"
    times = fire_times(cron(expression), tz, change - timedelta(days=2), 2)
    assert times[0] == change
    assert times[1] - times[0] > timedelta(days=300)


@PROPERTY
@given(tz=st.sampled_from(DST_ZONES), data=st.data())
def test_fixed_time_in_a_repeated_hour_fires_once_at_its_first_occurrence(
    tz: ZoneInfo, data: st.DataObject
) -> None:
    change, jump = _change_in(tz, data, forward=False)
    minutes = data.draw(st.integers(0, jump // MINUTE - 1))
    wall = change.astimezone(tz).replace(tzinfo=None) + minutes * MINUTE
    expression = f"{wall.minute} {wall.hour} {wall.day} {wall.month} *"
    times = fire_times(cron(expression), tz, change - timedelta(days=2), 2)
    assert times[0] == change - jump + minutes * MINUTE
    assert times[1] - times[0] > timedelta(days=300)


@PROPERTY
@given(
    every=st.integers(1, 366 * 86_400).map(lambda s: timedelta(seconds=s)),
    anchor=st.datetimes(datetime(2000, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
    after=st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 31), timezones=st.just(UTC)),
    count=st.integers(1, 20),
    tz=st.sampled_from(ZONES),
)
def test_interval_results_are_evenly_spaced_on_the_anchor_grid(
    every: timedelta, anchor: datetime, after: datetime, count: int, tz: ZoneInfo
) -> None:
    times = fire_times(IntervalTrigger(every), tz, after, count, anchor=anchor)
    assert len(times) == count
    assert all(later - earlier == every for earlier, later in pairwise(times))
    assert (times[0] - anchor) % every == timedelta(0)
    assert times[0] > after and (times[0] == anchor or times[0] - every <= after)
