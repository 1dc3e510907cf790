"""The aggregated calendar (too many jobs to draw one by one): its totals per day and per hour
equal what the per-job path lists on the same data, forced into aggregate mode by a low
threshold; a few jobs are still drawn exactly as before."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.extensions import db
from app.services.calendar import aggregate
from app.services.calendar import entries as cal
from app.services.calendar.aggregate import buckets
from app.services.calendar.window import window_for

NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
CREATED = datetime(2027, 2, 1, tzinfo=UTC)
# Mid-window: the grid holds runs before it and occurrences after it.
NOW = datetime(2027, 3, 12, 15, 7, tzinfo=UTC)
LISTED = 10**6  # every entry listed one by one (no bars), so hours can be compared too


def seed(owner, other, make_job, make_execution):
    """Jobs of every kind, two sharing a schedule, with runs, retries, gaps and pending rows."""
    jobs = [
        make_job(owner, name="a interval", now=CREATED, schedule_config={"minutes": 50}),
        make_job(owner, name="b interval twin", now=CREATED, schedule_config={"minutes": 50}),
        make_job(
            owner,
            name="c weekdays",
            now=CREATED,
            job_type="cron",
            schedule_config={"expression": "30 2 * * 1-5"},
            timezone="America/New_York",
        ),
        make_job(
            owner,
            name="d hourly",
            now=CREATED,
            job_type="cron",
            schedule_config={"expression": "15 * * * *"},
            timezone="Australia/Lord_Howe",
        ),
        make_job(
            owner,
            name="e ends",
            now=CREATED,
            job_type="cron",
            schedule_config={"expression": "0 */3 * * *"},
            end_date=datetime(2027, 3, 20, tzinfo=UTC),
        ),
        make_job(
            owner,
            name="f once",
            now=CREATED,
            job_type="date",
            schedule_config={"runAt": "2027-03-18T09:00:00"},
            timezone="America/New_York",
        ),
        make_job(owner, name="g paused", now=CREATED, schedule_config={"hours": 2}),
    ]
    jobs.append(
        make_job(
            owner,
            name="g2 paused cron",
            now=CREATED,
            job_type="cron",
            schedule_config={"expression": "45 */2 * * *"},
            timezone="America/New_York",
        )
    )
    jobs.append(
        make_job(
            owner,
            name="g3 ended",
            now=CREATED,
            schedule_config={"minutes": 20},
            end_date=NOW - timedelta(days=2),
        )
    )
    for paused in jobs[-3:-1]:
        paused.is_paused, paused.status = True, "paused"
        paused.resume_at = datetime(2027, 3, 16, 7, 30, tzinfo=UTC)
    gone = make_job(owner, name="h deleted", now=CREATED, schedule_config={"hours": 5})
    gone.deleted_at = CREATED
    db.session.commit()
    make_job(other, name="z other owner", now=CREATED, schedule_config={"minutes": 7})
    slot = datetime(2027, 3, 8, 6, 30, tzinfo=UTC)  # the spring-forward day in New York
    failed = make_execution(jobs[0], status="failed", scheduled_for=slot)
    make_execution(
        jobs[0],
        status="success",
        scheduled_for=slot,
        attempt=2,
        retry_of=failed.id,
        triggered_by="retry",
    )
    for hours, status in enumerate(["success", "timeout", "missed", "skipped", "failed"]):
        make_execution(jobs[2], status=status, scheduled_for=slot + timedelta(hours=7 * hours))
    make_execution(gone, status="success", scheduled_for=slot - timedelta(days=3))
    make_execution(jobs[3], status="pending", scheduled_for=NOW - timedelta(minutes=5))
    make_execution(jobs[3], status="pending", scheduled_for=NOW + timedelta(minutes=8))
    make_execution(
        jobs[1], status="success", scheduled_for=NOW - timedelta(hours=1), triggered_by="manual"
    )
    return jobs


def per_job_totals(data, by_hour):
    """What the per-job path shows, counted per (day, hour or None) and status."""
    found = defaultdict(Counter)
    zone = data.window.zone
    for entry in data.entries:
        local = entry.start.astimezone(zone)
        found[(local.date(), local.hour if by_hour else None)][entry.status] += 1
    for bar in data.bars:
        assert not by_hour
        found[(bar.day, None)].update(bar.outcomes)
    return {key: dict(counter) for key, counter in found.items()}


def show(user, view, day, zone, aggregation=None, **filters):
    window = window_for(view, day, zone, 6)
    dense_after = 3 if aggregation is None and view == "month" else LISTED
    if aggregation is not None:
        dense_after = 3 if view == "month" else LISTED
    return cal.calendar_window(
        db.session, user, window, cal.Filters(**filters), NOW, dense_after, aggregation
    )


@pytest.mark.parametrize(
    ("view", "day", "zone", "by_hour"),
    [
        ("month", date(2027, 3, 10), NEW_YORK, False),
        ("week", date(2027, 3, 10), NEW_YORK, True),
        ("day", date(2027, 3, 14), NEW_YORK, True),  # spring forward: a 23-hour day
        ("week", date(2027, 4, 1), LORD_HOWE, True),  # a 30-minute fall back on the 4th
        ("month", date(2027, 3, 10), LORD_HOWE, False),
    ],
)
def test_totals_equal_the_per_job_path(
    editor, admin, make_job, make_execution, view, day, zone, by_hour
):
    seed(editor, admin, make_job, make_execution)
    for user in (editor.user, admin.user):
        listed = show(user, view, day, zone)
        aggregated = show(user, view, day, zone, cal.Aggregation(0, by_hour))
        assert aggregated.aggregated and not listed.aggregated
        got = {(s.day, s.hour): s.outcomes for s in aggregated.summaries}
        assert got == per_job_totals(listed, by_hour)
        assert sum(s.count for s in aggregated.summaries) > 50


@pytest.mark.parametrize("outcome", ["failed", "scheduled", "paused", "success"])
def test_filtered_totals_equal_the_per_job_path(editor, admin, make_job, make_execution, outcome):
    seed(editor, admin, make_job, make_execution)
    for filters in ({"outcome": outcome}, {"outcome": outcome, "q": "interval"}):
        listed = show(admin.user, "month", date(2027, 3, 10), NEW_YORK, **filters)
        aggregated = show(
            admin.user, "month", date(2027, 3, 10), NEW_YORK, cal.Aggregation(0), **filters
        )
        got = {(s.day, s.hour): s.outcomes for s in aggregated.summaries}
        assert got == per_job_totals(listed, False)


def test_the_first_jobs_by_name_are_still_drawn_one_by_one(editor, admin, make_job, make_execution):
    seed(editor, admin, make_job, make_execution)
    listed = show(editor.user, "week", date(2027, 3, 10), NEW_YORK)
    aggregated = show(editor.user, "week", date(2027, 3, 10), NEW_YORK, cal.Aggregation(0, True, 2))
    first_two = {"a interval", "b interval twin"}
    assert {e.job.name for e in aggregated.entries} == first_two
    assert aggregated.entries == [e for e in listed.entries if e.job.name in first_two]


def test_at_or_under_the_threshold_nothing_changes(editor, admin, make_job, make_execution):
    seed(editor, admin, make_job, make_execution)
    listed = show(editor.user, "month", date(2027, 3, 10), NEW_YORK)
    # The editor sees ten jobs (the deleted one too: its history stays on the grid).
    same = show(editor.user, "month", date(2027, 3, 10), NEW_YORK, cal.Aggregation(10))
    assert not same.aggregated and not same.summaries
    assert (same.entries, same.bars) == (listed.entries, listed.bars)
    assert show(editor.user, "month", date(2027, 3, 10), NEW_YORK, cal.Aggregation(9)).aggregated


def test_hour_buckets_follow_the_wall_clock_on_dst_days():
    spring = buckets(window_for("day", date(2027, 3, 14), NEW_YORK, 6), by_hour=True)
    assert [hour for _day, hour in spring.labels] == [0, 1, *range(3, 24)]  # 02:00 skipped
    fall = buckets(window_for("day", date(2027, 11, 7), NEW_YORK, 6), by_hour=True)
    assert len(fall.labels) == 24
    assert fall.edges[2] - fall.edges[1] == timedelta(hours=2)  # 01:00 happens twice
    days = buckets(window_for("week", date(2027, 3, 14), NEW_YORK, 6), by_hour=False)
    assert len(days.labels) == 7 and days.edges[-1] - days.edges[0] == timedelta(days=7, hours=-1)


def test_a_drawn_job_busy_in_the_past_is_counted_not_read_run_by_run(
    editor, make_job, make_execution
):
    job = make_job(
        editor,
        name="a daily",
        now=CREATED,
        job_type="cron",
        schedule_config={"expression": "0 6 * * *"},
    )
    make_job(editor, name="b other", now=CREATED, schedule_config={"hours": 6})
    busy_day = datetime(2027, 3, 2, 6, tzinfo=UTC)
    for minute in range(5):
        make_execution(job, status="success", scheduled_for=busy_day + timedelta(minutes=minute))
    make_execution(job, status="failed", scheduled_for=busy_day + timedelta(days=1))
    week = window_for("week", date(2027, 3, 2), ZoneInfo("UTC"), 6)  # all past at NOW
    data = cal.calendar_window(
        db.session, editor.user, week, cal.Filters(), NOW, 4, cal.Aggregation(0, True, 1)
    )
    assert data.entries == []
    assert {(bar.day, bar.count, tuple(bar.outcomes.items())) for bar in data.bars} == {
        (date(2027, 3, 2), 5, (("success", 5),)),
        (date(2027, 3, 3), 1, (("failed", 1),)),
    }
    # Not aggregated (the same two jobs), the daily job's runs are listed as before.
    listed = cal.calendar_window(db.session, editor.user, week, cal.Filters(), NOW, 4)
    assert len([e for e in listed.entries if e.job.id == job.id]) == 1 and len(listed.bars) == 1


def test_the_occurrence_budget_caps_aggregated_totals_and_says_so(
    editor, admin, make_job, make_execution, monkeypatch
):
    seed(editor, admin, make_job, make_execution)
    whole = show(editor.user, "month", date(2027, 3, 10), NEW_YORK, cal.Aggregation(0))
    assert not whole.capped
    monkeypatch.setattr(cal, "MAX_OCCURRENCES", 30)
    cut = show(editor.user, "month", date(2027, 3, 10), NEW_YORK, cal.Aggregation(0, sample=0))
    assert cut.occurrences_capped and cut.aggregated
    upcoming = sum(s.upcoming for s in cut.summaries)
    assert 0 < upcoming < sum(s.upcoming for s in whole.summaries)


def test_a_later_request_for_the_same_window_counts_from_its_own_now(
    editor, admin, make_job, make_execution
):
    seed(editor, admin, make_job, make_execution)
    window = window_for("month", date(2027, 3, 10), NEW_YORK, 6)
    for now in (NOW, NOW + timedelta(days=3, hours=5)):  # the second reuses the rules' times
        args = (db.session, editor.user, window, cal.Filters(), now, 3)
        listed = cal.calendar_window(*args)
        aggregated = cal.calendar_window(*args, cal.Aggregation(0))
        got = {(s.day, s.hour): s.outcomes for s in aggregated.summaries}
        assert got == per_job_totals(listed, False)


def test_more_slots_to_list_than_the_cap_aggregate_however_few_the_jobs(
    editor, admin, make_job, make_execution, monkeypatch
):
    seed(editor, admin, make_job, make_execution)
    window = window_for("month", date(2027, 3, 10), NEW_YORK, 6)
    listed = show(editor.user, "month", date(2027, 3, 10), NEW_YORK, cal.Aggregation(100))
    assert not listed.aggregated
    # Listed one by one on a month (at most 3 a day): "c weekdays" and "f once"; the hourly,
    # three-hourly and two-hourly rules and the intervals are counted per day.
    expected = sum(1 for e in listed.entries if e.kind == "occurrence")
    assert (
        aggregate.listed(db.session, cal._jobs_query(editor.user, cal.Filters()), window, NOW, 3)
        == expected
    )
    monkeypatch.setattr(aggregate, "LISTED_AFTER", expected - 1)
    assert show(editor.user, "month", date(2027, 3, 10), NEW_YORK, cal.Aggregation(100)).aggregated


def test_a_busy_rule_is_not_estimated_as_listed(editor, make_job):
    make_job(
        editor,
        name="busy weekdays",
        now=CREATED,
        job_type="cron",
        schedule_config={"expression": "*/10 * * * 1-5"},
    )
    window = window_for("month", date(2027, 3, 10), NEW_YORK, 6)
    visible = cal._jobs_query(editor.user, cal.Filters())
    # More than 3 a day: the per-job path counts it per day (bars), lists none of it.
    assert aggregate.listed(db.session, visible, window, NOW, 3) == 0
    data = show(editor.user, "month", date(2027, 3, 10), NEW_YORK)
    assert not [e for e in data.entries if e.kind == "occurrence"] and data.bars
    # At most 200 a day it would be listed: 144 on each weekday from now on.
    assert aggregate.listed(db.session, visible, window, NOW, 200) > 2000
