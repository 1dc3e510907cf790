"""The calendar service: window math, placement of runs/occurrences/gaps, DST, density, caps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.extensions import db
from app.models import utcnow
from app.services.calendar import entries as cal
from app.services.calendar.window import step, transitions, window_for

NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
# Well before 2027's DST days, so every slot of them is in the future.
BEFORE = datetime(2027, 1, 2, tzinfo=UTC)


def show(user, view, day, zone=NEW_YORK, now=BEFORE, dense_after=1000, **filters):
    window = window_for(view, day, zone, 6)
    return cal.calendar_window(db.session, user, window, cal.Filters(**filters), now, dense_after)


def local(entry, zone=NEW_YORK):
    return entry.start.astimezone(zone).replace(tzinfo=None)


def test_month_grid_has_leading_and_trailing_days():
    window = window_for("month", date(2027, 3, 14), NEW_YORK, 6)  # weeks start on Sunday
    assert window.first == date(2027, 2, 28)
    assert window.last == date(2027, 4, 4)
    assert len(window.days) % 7 == 0
    monday_first = window_for("month", date(2027, 3, 14), NEW_YORK, 0)
    assert monday_first.first == date(2027, 3, 1)
    assert monday_first.last == date(2027, 4, 5)


def test_window_steps_and_day_bounds_follow_local_midnight():
    assert step("month", date(2027, 12, 31), True) == date(2028, 1, 1)
    assert step("month", date(2027, 1, 31), False) == date(2026, 12, 1)
    assert step("week", date(2027, 3, 14), False) == date(2027, 3, 7)
    window = window_for("day", date(2027, 3, 14), NEW_YORK, 6)
    assert window.start == datetime(2027, 3, 14, 5, tzinfo=UTC)
    assert window.end - window.start == timedelta(hours=23)  # spring forward


def test_spring_forward_slot_appears_once_at_three_and_is_flagged(editor, make_job):
    make_job(
        editor,
        now=BEFORE,
        job_type="cron",
        schedule_config={"expression": "30 2 * * *"},
        timezone="America/New_York",
    )
    data = show(editor.user, "day", date(2027, 3, 14))
    assert [(local(e), e.shifted) for e in data.entries] == [(datetime(2027, 3, 14, 3), True)]
    change = data.transitions[date(2027, 3, 14)]
    assert (change.before.time().hour, change.after.time().hour, change.forward) == (2, 3, True)


def test_fall_back_day_fires_once_and_repeated_hour_is_flagged(editor, make_job):
    for expression in ("30 2 * * *", "30 1 * * *"):
        make_job(
            editor,
            name=expression,
            now=BEFORE,
            job_type="cron",
            schedule_config={"expression": expression},
            timezone="America/New_York",
        )
    data = show(editor.user, "day", date(2027, 11, 7))
    got = [(e.job.name, local(e), e.repeated) for e in data.entries]
    assert got == [
        ("30 1 * * *", datetime(2027, 11, 7, 1, 30), True),
        ("30 2 * * *", datetime(2027, 11, 7, 2, 30), False),
    ]
    assert data.entries[0].start == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)  # the first 01:30
    assert not data.transitions[date(2027, 11, 7)].forward


def test_lord_howe_half_hour_shift(editor, make_job):
    make_job(
        editor,
        now=BEFORE,
        job_type="cron",
        schedule_config={"expression": "15 2 * * *"},
        timezone="Australia/Lord_Howe",
    )
    data = show(editor.user, "day", date(2027, 10, 3), zone=LORD_HOWE)
    assert [(local(e, LORD_HOWE), e.shifted) for e in data.entries] == [
        (datetime(2027, 10, 3, 2, 30), True)
    ]
    change = transitions(data.window)[date(2027, 10, 3)]
    assert (change.before.strftime("%H:%M"), change.after.strftime("%H:%M")) == ("02:00", "02:30")


def test_one_off_job_appears_once(editor, make_job):
    make_job(
        editor,
        now=BEFORE,
        job_type="date",
        schedule_config={"runAt": "2027-03-10T09:00:00"},
        timezone="America/New_York",
    )
    data = show(editor.user, "month", date(2027, 3, 1))
    assert [local(e) for e in data.entries] == [datetime(2027, 3, 10, 9)]
    assert show(editor.user, "month", date(2027, 4, 1)).entries == []


def test_start_and_end_dates_bound_the_occurrences(editor, make_job):
    make_job(
        editor,
        now=BEFORE,
        schedule_config={"hours": 12},
        start_date=datetime(2027, 3, 3, 12, tzinfo=UTC),
        end_date=datetime(2027, 3, 5, 12, tzinfo=UTC),
    )
    data = show(editor.user, "week", date(2027, 3, 3), zone=ZoneInfo("UTC"))
    assert [e.start.day * 100 + e.start.hour for e in data.entries] == [312, 400, 412, 500, 512]


def test_occurrences_equal_the_api_preview(editor, make_job, api_as):
    expression, zone = "0 9 * * 1-5", "Europe/Berlin"
    job = make_job(
        editor, job_type="cron", schedule_config={"expression": expression}, timezone=zone
    )
    now = utcnow()
    data = show(editor.user, "month", now.date(), zone=ZoneInfo(zone), now=now)
    preview = (
        api_as(editor)
        .post(
            "/schedule-preview",
            {
                "jobType": "cron",
                "scheduleConfig": {"expression": expression},
                "timezone": zone,
                "count": 100,
            },
        )
        .get_json()
    )
    end = data.window.end
    expected = [
        datetime.fromisoformat(t["utc"].replace("Z", "+00:00")) for t in preview["fireTimes"]
    ]
    mine = [e.start for e in data.entries if e.job.id == job.id]
    assert mine == [t for t in expected if t < end]
    assert mine


def test_past_runs_gaps_retries_and_manual_runs_are_placed(editor, make_job, make_execution):
    job = make_job(editor, now=BEFORE, schedule_config={"hours": 1})
    slot = datetime(2027, 1, 5, 10, tzinfo=UTC)
    failed = make_execution(job, status="failed", scheduled_for=slot)
    make_execution(
        job,
        status="success",
        scheduled_for=slot,
        attempt=2,
        retry_of=failed.id,
        triggered_by="retry",
    )
    make_execution(job, status="missed", scheduled_for=slot + timedelta(hours=1), reason="down")
    make_execution(job, status="skipped", scheduled_for=slot + timedelta(hours=2), reason="busy")
    make_execution(
        job, status="success", scheduled_for=slot + timedelta(minutes=7), triggered_by="manual"
    )
    now = datetime(2027, 1, 6, tzinfo=UTC)
    data = show(editor.user, "day", date(2027, 1, 5), zone=ZoneInfo("UTC"), now=now)
    got = [(e.kind, e.status, e.attempts, e.manual, e.reason) for e in data.entries]
    assert got == [
        ("run", "success", 2, False, None),
        ("run", "success", 1, True, None),
        ("missed", "missed", 1, False, "down"),
        ("skipped", "skipped", 1, False, "busy"),
    ]
    assert data.entries[0].execution_id == failed.id
    only_failed = show(
        editor.user, "day", date(2027, 1, 5), zone=ZoneInfo("UTC"), now=now, outcome="missed"
    )
    assert [e.kind for e in only_failed.entries] == ["missed"]


def test_the_armed_pending_slot_shows_once_as_an_occurrence(editor, make_job, make_execution):
    job = make_job(
        editor,
        now=BEFORE,
        schedule_config={"hours": 6},
        start_date=datetime(2027, 1, 5, tzinfo=UTC),
    )
    make_execution(job, status="pending", scheduled_for=datetime(2027, 1, 5, 6, tzinfo=UTC))
    data = show(
        editor.user,
        "day",
        date(2027, 1, 5),
        zone=ZoneInfo("UTC"),
        now=datetime(2027, 1, 5, 1, tzinfo=UTC),
    )
    assert [(e.kind, e.start.hour) for e in data.entries] == [
        ("occurrence", 6),
        ("occurrence", 12),
        ("occurrence", 18),
    ]


def test_paused_job_slots_are_faded_until_resume(editor, make_job):
    from app.services.scheduling import jobs

    job = make_job(
        editor,
        now=BEFORE,
        schedule_config={"hours": 6},
        start_date=datetime(2027, 1, 5, tzinfo=UTC),
    )
    jobs.apply_action(
        db.session,
        editor.user,
        job.id,
        "pause",
        BEFORE,
        resume_at=datetime(2027, 1, 5, 12, tzinfo=UTC),
    )
    db.session.commit()
    data = show(editor.user, "day", date(2027, 1, 5), zone=ZoneInfo("UTC"))
    assert [e.status for e in data.entries] == ["paused", "paused", "scheduled", "scheduled"]


def test_disabled_and_deleted_jobs_have_no_future(editor, make_job):
    from app.services.scheduling import jobs

    job = make_job(editor, now=BEFORE, schedule_config={"hours": 6})
    jobs.apply_action(db.session, editor.user, job.id, "disable", BEFORE)
    db.session.commit()
    assert show(editor.user, "day", date(2027, 1, 5)).entries == []


def test_editors_see_only_their_own_jobs(editor, outsider, admin, make_job):
    make_job(editor, now=BEFORE, name="mine", schedule_config={"hours": 12})
    make_job(outsider, now=BEFORE, name="theirs", schedule_config={"hours": 12})
    names = {e.job.name for e in show(editor.user, "day", date(2027, 1, 5)).entries}
    assert names == {"mine"}
    everyone = show(admin.user, "day", date(2027, 1, 5), owner_id=outsider.id).entries
    assert {e.job.name for e in everyone} == {"theirs"}
    # An editor's owner filter is ignored: it could only show what they may not see.
    assert {
        e.job.name for e in show(editor.user, "day", date(2027, 1, 5), owner_id=outsider.id).entries
    } == {"mine"}


def test_filters_by_task_queue_and_search(editor, make_job):
    make_job(editor, now=BEFORE, name="alpha", schedule_config={"hours": 12})
    make_job(
        editor,
        now=BEFORE,
        name="beta",
        task_function="sleep",
        task_args={"seconds": 1},
        schedule_config={"hours": 12},
        queue="slow",
    )
    day = date(2027, 1, 5)
    assert {e.job.name for e in show(editor.user, "day", day, q="alp").entries} == {"alpha"}
    assert {e.job.name for e in show(editor.user, "day", day, task="sleep").entries} == {"beta"}
    assert {e.job.name for e in show(editor.user, "day", day, queue="slow").entries} == {"beta"}


def test_dense_jobs_collapse_into_one_bar_per_day(editor, make_job):
    make_job(
        editor,
        now=BEFORE,
        schedule_config={"minutes": 1},
        start_date=datetime(2027, 1, 1, tzinfo=UTC),
    )
    data = show(editor.user, "week", date(2027, 1, 5), zone=ZoneInfo("UTC"), dense_after=4)
    assert data.entries == []
    assert [b.count for b in data.bars] == [1440] * 7
    assert data.bars[0].outcomes == {"scheduled": 1440}
    assert not data.capped  # counted, not listed: the cap is never reached


def test_a_dense_day_counts_its_past_runs_with_its_future(editor, make_job, make_execution):
    job = make_job(
        editor,
        now=BEFORE,
        schedule_config={"minutes": 1},
        start_date=datetime(2027, 1, 1, tzinfo=UTC),
    )
    make_execution(job, status="failed", scheduled_for=datetime(2027, 1, 5, 0, 1, tzinfo=UTC))
    now = datetime(2027, 1, 5, 12, tzinfo=UTC)
    data = show(editor.user, "day", date(2027, 1, 5), zone=ZoneInfo("UTC"), now=now, dense_after=4)
    assert [(b.count, b.outcomes) for b in data.bars] == [(720, {"failed": 1, "scheduled": 719})]


def test_occurrences_are_capped_and_say_so(editor, make_job, monkeypatch):
    monkeypatch.setattr(cal, "MAX_OCCURRENCES", 100)
    make_job(editor, now=BEFORE, job_type="cron", schedule_config={"expression": "* * * * *"})
    make_job(editor, now=BEFORE, job_type="cron", schedule_config={"expression": "0 * * * *"})
    data = show(editor.user, "day", date(2027, 1, 5), dense_after=4)
    assert data.occurrences_capped and data.capped
    assert sum(b.count for b in data.bars) + len(data.entries) == 100


def test_frequent_cron_jobs_are_counted_and_a_shared_rule_is_computed_once(
    editor, make_job, monkeypatch
):
    monkeypatch.setattr(cal, "MAX_OCCURRENCES", 300)  # one day of */5 fits once, not twice
    for name in ("first", "second"):
        make_job(editor, name=name, now=BEFORE, job_type="cron",
                 schedule_config={"expression": "*/5 * * * *"})  # fmt: skip
    data = show(editor.user, "day", date(2027, 1, 5), zone=ZoneInfo("UTC"), dense_after=24)
    assert [(b.job.name, b.count, b.outcomes) for b in data.bars] == [
        ("first", 288, {"scheduled": 288}),
        ("second", 288, {"scheduled": 288}),
    ]
    assert data.entries == [] and not data.capped


def test_paused_frequent_cron_job_counts_paused_slots_until_resume(editor, make_job):
    from app.services.scheduling import jobs

    job = make_job(editor, now=BEFORE, job_type="cron", schedule_config={"expression": "0 * * * *"})
    jobs.apply_action(db.session, editor.user, job.id, "pause", BEFORE,
                      resume_at=datetime(2027, 1, 5, 6, tzinfo=UTC))  # fmt: skip
    db.session.commit()
    data = show(editor.user, "day", date(2027, 1, 5), zone=ZoneInfo("UTC"), dense_after=4)
    assert [b.outcomes for b in data.bars] == [{"paused": 6, "scheduled": 18}]


def test_a_counted_jobs_runs_are_counted_in_sql_as_the_rows_would_fold(
    editor, make_job, make_execution
):
    """Runs of a counted job: a retried run once with its last outcome, by the display
    zone's day (a run at 23:30 New York is that day's, not UTC's next), the armed pending
    slot left to the occurrences, and the outcome filter applied."""
    job = make_job(editor, now=BEFORE, schedule_config={"minutes": 1},
                   start_date=datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    slot = datetime(2027, 1, 5, 15, tzinfo=UTC)
    first = make_execution(job, status="failed", scheduled_for=slot, attempt=1)
    make_execution(job, status="success", scheduled_for=slot, attempt=2, retry_of=first.id,
                   triggered_by="retry")  # fmt: skip
    make_execution(job, status="missed", scheduled_for=datetime(2027, 1, 6, 4, 30, tzinfo=UTC))
    now = datetime(2027, 1, 7, 12, tzinfo=UTC)
    make_execution(job, status="pending", scheduled_for=now + timedelta(minutes=1))
    data = show(editor.user, "week", date(2027, 1, 5), now=now, dense_after=4)
    by_day = {b.day: b.outcomes for b in data.bars}
    assert by_day[date(2027, 1, 5)] == {"success": 1, "missed": 1}
    assert by_day[date(2027, 1, 7)]["scheduled"] == 12 * 60 - 1 + 5 * 60  # none twice
    assert "pending" not in by_day[date(2027, 1, 7)]
    failed = show(editor.user, "week", date(2027, 1, 5), now=now, dense_after=4, outcome="missed")
    assert [(b.day, b.outcomes) for b in failed.bars] == [(date(2027, 1, 5), {"missed": 1})]


def test_a_counted_cron_jobs_runs_join_its_future_count(editor, make_job, make_execution):
    job = make_job(editor, now=BEFORE, job_type="cron", timezone="UTC",
                   schedule_config={"expression": "0 * * * *"})  # fmt: skip
    make_execution(job, status="failed", scheduled_for=datetime(2027, 1, 5, 3, tzinfo=UTC))
    make_execution(job, status="success", scheduled_for=datetime(2027, 1, 5, 4, tzinfo=UTC))
    now = datetime(2027, 1, 5, 12, 30, tzinfo=UTC)
    data = show(editor.user, "day", date(2027, 1, 5), zone=ZoneInfo("UTC"), now=now, dense_after=4)
    assert data.entries == []
    assert [b.outcomes for b in data.bars] == [{"failed": 1, "success": 1, "scheduled": 11}]


def test_a_dense_cron_job_is_drawn_as_bars_when_little_of_the_window_is_to_come(
    editor, make_job, make_execution
):
    """Late on the week's last day its hourly job has one slot to come, yet it is an hourly
    job: its past days are bars (runs counted in SQL), not listed runs."""
    job = make_job(editor, now=BEFORE, job_type="cron", timezone="UTC",
                   schedule_config={"expression": "0 * * * *"})  # fmt: skip
    for hour in (3, 4):
        make_execution(job, status="success", scheduled_for=datetime(2027, 1, 5, hour, tzinfo=UTC))
    now = datetime(2027, 1, 9, 22, 30, tzinfo=UTC)  # the week of Jan 3 ends with Jan 9
    data = show(editor.user, "week", date(2027, 1, 5), zone=ZoneInfo("UTC"), now=now, dense_after=4)
    assert all(e.kind == "occurrence" for e in data.entries)  # no run listed
    assert {b.day: b.outcomes for b in data.bars}[date(2027, 1, 5)] == {"success": 2}
