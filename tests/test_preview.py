"""The live schedule preview: fire times with DST flags, and schedules that never fire.

New York springs forward on 2026-03-08 (02:00 → 03:00) and falls back on
2026-11-01 (02:00 → 01:00); in 2027 on 03-14 and 11-07.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.services.errors import Invalid
from app.services.scheduling import schedule

NY = "America/New_York"
BEFORE_SPRING = datetime(2026, 3, 7, 12, tzinfo=UTC)
BEFORE_FALL = datetime(2026, 10, 31, 12, tzinfo=UTC)


def cron(expression, now, count=3, zone=NY):
    return schedule.preview("cron", {"expression": expression}, zone, None, None, count, now)


def flags(result):
    return [(t.utc.isoformat(), t.shifted, t.repeated) for t in result.fire_times]


def test_a_time_in_the_spring_gap_is_moved_to_the_gaps_end_and_flagged():
    result = cron("30 2 * * *", BEFORE_SPRING)
    assert flags(result) == [
        ("2026-03-08T07:00:00+00:00", True, False),  # 02:30 does not exist: 03:00 EDT
        ("2026-03-09T06:30:00+00:00", False, False),
        ("2026-03-10T06:30:00+00:00", False, False),
    ]
    assert result.fire_times[0].local.isoformat() == "2026-03-08T03:00:00-04:00"
    assert not result.never_fires


@pytest.mark.parametrize("expression", ["0 3 * * *", "0 * * * *"])
def test_a_time_that_exists_at_the_gaps_end_is_not_flagged(expression):
    result = cron(expression, datetime(2026, 3, 8, 6, 30, tzinfo=UTC), count=1)
    assert flags(result) == [("2026-03-08T07:00:00+00:00", False, False)]


def test_a_fixed_hour_in_the_fall_fold_fires_once_and_is_flagged_repeated():
    result = cron("30 1 * * *", BEFORE_FALL, count=2)
    assert flags(result) == [
        ("2026-11-01T05:30:00+00:00", False, True),  # 01:30 EDT, the first of two
        ("2026-11-02T06:30:00+00:00", False, False),
    ]


def test_a_clock_following_job_fires_at_both_copies_of_a_repeated_time():
    result = cron("30 * * * *", datetime(2026, 11, 1, 5, tzinfo=UTC), count=3)
    assert flags(result) == [
        ("2026-11-01T05:30:00+00:00", False, True),  # 01:30 EDT
        ("2026-11-01T06:30:00+00:00", False, True),  # 01:30 EST
        ("2026-11-01T07:30:00+00:00", False, False),
    ]
    assert [t.local.utcoffset().total_seconds() / 3600 for t in result.fire_times[:2]] == [-4, -5]


def test_a_one_off_in_the_gap_is_shifted():
    result = schedule.preview(
        "date", {"runAt": "2026-03-08T02:30:00"}, NY, None, None, 5, BEFORE_SPRING
    )
    assert flags(result) == [("2026-03-08T07:00:00+00:00", True, False)]


def test_an_interval_is_elapsed_time_and_never_shifted():
    start = datetime(2026, 3, 8, 1, 0)  # wall time in New York
    result = schedule.preview("interval", {"hours": 1}, NY, start, None, 2, BEFORE_SPRING)
    assert flags(result) == [
        ("2026-03-08T06:00:00+00:00", False, False),
        ("2026-03-08T07:00:00+00:00", False, False),
    ]


@pytest.mark.parametrize(
    ("job_type", "config", "end", "words"),
    [
        ("cron", {"expression": "0 0 30 2 *"}, None, "never matches"),
        ("date", {"runAt": "2020-01-01T09:00:00"}, None, "in the past"),
        ("interval", {"minutes": 5}, datetime(2026, 1, 1), "end date"),
    ],
)
def test_a_schedule_that_can_never_fire_says_so(job_type, config, end, words):
    result = schedule.preview(job_type, config, "UTC", None, end, 5, BEFORE_SPRING)
    assert result.never_fires and result.fire_times == []
    assert words in (result.reason or "")


@pytest.mark.parametrize(
    ("job_type", "config", "zone", "path"),
    [
        ("cron", {"expression": "61 * * * *"}, "UTC", "schedule_config.expression"),
        ("cron", {"expression": "0 0 30 2 *", "extra": 1}, "UTC", "schedule_config.extra"),
        ("date", {"runAt": "tomorrow"}, "UTC", "schedule_config.run_at"),
        ("interval", {"minutes": 5}, "Mars/Olympus", "timezone"),
    ],
)
def test_an_invalid_schedule_is_refused_with_its_field_path(job_type, config, zone, path):
    with pytest.raises(Invalid) as refused:
        schedule.preview(job_type, config, zone, None, None, 5, BEFORE_SPRING)
    assert set(refused.value.fields) == {path}


# --- the same answers through the API ---------------------------------------------------------


def test_the_api_preview_carries_the_dst_flags(api_as, viewer):
    body = {
        "jobType": "cron",
        "scheduleConfig": {"expression": "30 2 * * *"},
        "timezone": NY,
        "startDate": "2027-03-13T00:00:00",
        "count": 2,
    }
    response = api_as(viewer).post("/schedule-preview", body)
    assert response.status_code == 200, response.json
    times = response.json["fireTimes"]
    assert [(t["utc"], t["shifted"], t["repeated"]) for t in times] == [
        ("2027-03-13T07:30:00Z", False, False),
        ("2027-03-14T07:00:00Z", True, False),
    ]
    assert response.json["neverFires"] is False and response.json["neverFiresReason"] is None


def test_the_api_preview_says_when_a_schedule_never_fires(api_as, viewer):
    body = {"jobType": "cron", "scheduleConfig": {"expression": "0 0 30 2 *"}}
    response = api_as(viewer).post("/schedule-preview", body)
    assert response.status_code == 200, response.json
    assert response.json["fireTimes"] == [] and response.json["neverFires"] is True
    assert "never matches" in response.json["neverFiresReason"]


def test_the_api_preview_names_a_bad_field_in_camel_case(api_as, viewer):
    body = {"jobType": "date", "scheduleConfig": {"runAt": "tomorrow"}}
    response = api_as(viewer).post("/schedule-preview", body)
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"scheduleConfig.runAt"}
