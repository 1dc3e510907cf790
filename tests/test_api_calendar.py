"""GET /api/v1/calendar: FullCalendar events, visibility, caps, bad input; same data as the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.services.calendar import entries as cal
from tests.test_web_jobs_actions import sign_in

BEFORE = datetime(2027, 1, 2, tzinfo=UTC)
NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    """The feed and the page both think it is noon UTC on 2027-01-04."""
    monkeypatch.setattr("app.api.calendar.utcnow", lambda: NOW)
    monkeypatch.setattr("app.web.calendar.views.utcnow", lambda: NOW)


@pytest.fixture
def history(editor, outsider, make_job, make_execution):
    job = make_job(
        editor,
        name="Nightly",
        now=BEFORE,
        job_type="cron",
        schedule_config={"expression": "30 2 * * *"},
        timezone="America/New_York",
    )
    slot = datetime(2027, 1, 4, 7, 30, tzinfo=UTC)
    run = make_execution(
        job, status="failed", scheduled_for=slot, completed_at=slot + timedelta(minutes=2)
    )
    gap = make_execution(
        job, status="missed", scheduled_for=slot - timedelta(days=1), reason="down"
    )
    make_job(outsider, name="Theirs", now=BEFORE, schedule_config={"hours": 6})
    return job, run, gap


def feed(api, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.get(f"/calendar?{query}")


def test_events_are_fullcalendar_objects(api_as, editor, history):
    job, run, gap = history
    answer = feed(api_as(editor), start="2027-01-03", end="2027-01-10", timeZone="America/New_York")
    assert answer.status_code == 200
    events = answer.get_json()
    assert isinstance(events, list)
    by_kind = {}
    for event in events:
        by_kind.setdefault(event["extendedProps"]["kind"], []).append(event)
    (missed,) = by_kind["missed"]
    assert missed["extendedProps"]["reason"] == "down"
    assert missed["url"] == f"/runs/{gap.id}"
    (failed,) = by_kind["run"]
    assert failed == {
        "id": str(run.id),
        "title": "Nightly",
        "start": "2027-01-04T07:30:00Z",
        "end": "2027-01-04T07:32:00Z",
        "allDay": False,
        "url": f"/runs/{run.id}",
        "classNames": ["almanac-run", "almanac-status-failed"],
        "extendedProps": {
            "kind": "run",
            "status": "failed",
            "jobId": str(job.id),
            "executionId": str(run.id),
            "reason": None,
            "manual": False,
            "attempts": 1,
            "shifted": False,
            "repeated": False,
            "count": None,
            "outcomes": None,
            "aggregated": False,
        },
    }
    assert "X-Almanac-Aggregated" not in answer.headers
    # The rest of the week is still to come.
    assert [e["start"][:10] for e in by_kind["occurrence"]] == [
        f"2027-01-0{d}" for d in range(5, 10)
    ]
    assert all(e["url"] == f"/jobs/{job.id}" for e in by_kind["occurrence"])
    assert "Theirs" not in {e["title"] for e in events}


def test_naive_bounds_are_wall_time_in_the_zone(api_as, editor, history):
    # 2027-01-04 02:30 New York is 07:30 UTC: inside a New York day, outside a Tokyo one.
    ny = feed(
        api_as(editor),
        start="2027-01-04T00:00:00",
        end="2027-01-05T00:00:00",
        timeZone="America/New_York",
    ).get_json()
    tokyo = feed(
        api_as(editor),
        start="2027-01-04T00:00:00",
        end="2027-01-04T12:00:00",
        timeZone="Asia/Tokyo",
    ).get_json()
    assert [e["extendedProps"]["kind"] for e in ny] == ["run"]
    assert tokyo == []


def test_frequent_jobs_become_all_day_summaries(api_as, editor, make_job):
    make_job(
        editor,
        name="Beat",
        now=BEFORE,
        schedule_config={"minutes": 1},
        start_date=datetime(2027, 1, 1, tzinfo=UTC),
    )
    events = feed(api_as(editor), start="2027-01-04", end="2027-01-06").get_json()
    assert [(e["start"], e["allDay"], e["extendedProps"]["count"]) for e in events] == [
        ("2027-01-04", True, 719),  # from noon on: the morning recorded no runs
        ("2027-01-05", True, 1440),
    ]
    assert events[0]["extendedProps"]["kind"] == "summary"


def test_capped_answers_say_so(api_as, editor, make_job, monkeypatch):
    monkeypatch.setattr(cal, "MAX_OCCURRENCES", 10)
    make_job(editor, now=BEFORE, job_type="cron", schedule_config={"expression": "0 * * * *"})
    answer = feed(api_as(editor), start="2027-01-04", end="2027-01-06")
    assert answer.headers["X-Almanac-Capped"] == "true"
    assert len(answer.get_json()) == 10


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2027-01-05", "end": "2027-01-04"},
        {"start": "2027-01-01", "end": "2027-06-01"},
        {"start": "2027-01-01", "end": "2027-01-02", "timeZone": "Mars/Base"},
        {"start": "yesterday", "end": "2027-01-02"},
        {"end": "2027-01-02"},
        {"start": "2027-01-01", "end": "2027-01-02", "outcome": "exploded"},
        # A task name not of the documented pattern (the API fuzzer sent this one).
        {"start": "2027-01-01", "end": "2027-01-02", "task": "1"},
        {"start": "2027-01-01", "end": "2027-01-02", "task": "os.system"},
    ],
)
def test_bad_queries_are_422(api_as, editor, params):
    answer = feed(api_as(editor), **params)
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"]


def test_a_task_filter_names_a_task(api_as, editor, history):
    def titles(task):
        answer = feed(api_as(editor), start="2027-01-03", end="2027-01-10", task=task)
        assert answer.status_code == 200, answer.get_json()
        return {event["title"] for event in answer.get_json()}

    assert titles("noop") == {"Nightly"}
    assert titles("no_such_task") == set()  # well formed: it just matches nothing


def test_anonymous_is_401(api_as):
    assert feed(api_as(None), start="2027-01-01", end="2027-01-02").status_code == 401


def test_feed_and_page_show_the_same_entries(client, api_as, editor, history):
    sign_in(client, editor)
    html = client.get("/calendar?view=list&date=2027-01-04&zone=America/New_York").get_data(
        as_text=True
    )
    page_links = re.findall(r'<a href="(/(?:runs|jobs)/[^"]+)"[ >]', html)
    events = feed(
        api_as(editor), start="2027-01-03", end="2027-01-10", timeZone="America/New_York"
    ).get_json()
    assert page_links == [e["url"] for e in events]
    assert len(page_links) == 7  # a missed slot, a failed run, five to come


def test_feed_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/calendar"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"start", "end", "timeZone"} <= names
    assert "CalendarEvent" in document["components"]["schemas"]


def test_not_in_the_future_before_now(api_as, editor, history):
    """Occurrences start at now: a past window holds only what the ledger recorded."""
    events = feed(api_as(editor), start="2027-01-01", end="2027-01-04T12:00:00Z").get_json()
    assert [e["extendedProps"]["kind"] for e in events] == ["missed", "run"]


def test_at_most_max_events_are_answered(api_as, editor, make_job, monkeypatch):
    monkeypatch.setattr("app.api.calendar.MAX_EVENTS", 3)
    make_job(editor, now=BEFORE, job_type="cron", schedule_config={"expression": "0 6 * * *"})
    answer = feed(api_as(editor), start="2027-01-05", end="2027-01-12")
    days = [event["start"][:10] for event in answer.get_json()]
    assert days == ["2027-01-05", "2027-01-06", "2027-01-07"]  # the earliest ones
    assert answer.headers["X-Almanac-Capped"] == "true"


def test_aggregated_answers_give_day_totals_and_say_so(api_as, editor, history, app, monkeypatch):
    job, _run, _gap = history
    bounds = {"start": "2027-01-03", "end": "2027-01-10", "timeZone": "America/New_York"}
    listed = feed(api_as(editor), **bounds).get_json()
    monkeypatch.setitem(app.config, "CALENDAR_AGGREGATE_AFTER", 0)
    answer = feed(api_as(editor), **bounds)
    assert answer.headers["X-Almanac-Aggregated"] == "true"
    events = answer.get_json()
    totals = [e for e in events if e["extendedProps"]["aggregated"]]
    assert totals == events  # day totals only
    expected = {}
    for event in listed:  # one entry a day: local days are the UTC dates' here
        day = datetime.fromisoformat(event["start"]).astimezone(ZoneInfo(bounds["timeZone"]))
        expected[day.date().isoformat()] = {event["extendedProps"]["status"]: 1}
    assert {e["start"]: e["extendedProps"]["outcomes"] for e in totals} == expected
    assert all(e["allDay"] and e["extendedProps"]["jobId"] is None for e in totals)
    assert all(e["extendedProps"]["kind"] == "summary" for e in totals)
    assert totals[1]["title"] == "All jobs · runs 1 · failed 1 · upcoming 0"
    assert str(job.id) not in {e["extendedProps"]["jobId"] for e in totals}
