"""One rule for every time the API accepts (README, "Times"): never a 500.

With ``Z`` or an offset a value is that instant; a date or a time without
offset is UTC in filters and ``resumeAt``, wall time in the job's zone for
``runAt``, ``startDate`` and ``endDate``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from app.extensions import db
from app.models import ScheduledJob

FILTER_VALUES = ["2026-12-03", "2026-12-03T00:00:00", "2026-12-03T01:00:00+01:00"]


@pytest.mark.parametrize("value", FILTER_VALUES)
@pytest.mark.parametrize("name", ["since", "until", "scheduledSince", "scheduledUntil"])
def test_history_filters_accept_dates_and_naive_times(api_as, admin, make_job, name, value):
    job = make_job(admin)
    query = {name: value}
    assert api_as(admin).get("/history", query_string=query).status_code == 200
    assert api_as(admin).get(f"/jobs/{job.id}/history", query_string=query).status_code == 200


@pytest.mark.parametrize("value", FILTER_VALUES)
def test_retry_filters_accept_dates_and_naive_times(api_as, admin, value):
    query = {"since": value, "until": value}
    assert api_as(admin).get("/retries", query_string=query).status_code == 200
    body = {"action": "discard", "since": value, "until": value}
    assert api_as(admin).post("/retries/bulk", body).status_code == 200


def test_a_naive_filter_is_utc(api_as, admin, make_job, make_execution):
    job = make_job(admin)
    make_execution(job, created_at=datetime(2026, 12, 3, 0, 30, tzinfo=UTC))
    api = api_as(admin)
    assert api.get("/history?since=2026-12-03").get_json()["total"] == 1
    assert api.get("/history?since=2026-12-03T01:00:00").get_json()["total"] == 0
    # The same instant with an offset: 01:00+01:00 is 00:00Z.
    assert api.get("/history?since=2026-12-03T01:00:00%2B01:00").get_json()["total"] == 1


@pytest.mark.parametrize("value", ["2026-02-30", "yesterday", "2026-12-03T25:00", "20261203"])
def test_a_bad_time_is_a_422_naming_the_field(api_as, admin, value):
    response = api_as(admin).get("/history", query_string={"since": value})
    assert response.status_code == 422
    assert "since" in response.get_json()["error"]["fields"]


def test_pause_with_a_naive_resume_time_reads_it_as_utc(api_as, editor, make_job):
    job = make_job(editor)
    body = {"action": "pause", "resumeAt": "2030-01-01T00:00:00"}
    response = api_as(editor).post(f"/jobs/{job.id}/action", body)
    assert response.status_code == 200, response.get_json()
    shown = response.get_json()["job"]
    assert shown["isPaused"] and shown["resumeAt"] == "2030-01-01T00:00:00Z"


def test_run_at_with_z_or_an_offset_is_that_instant_in_the_jobs_zone(api_as, editor):
    api = api_as(editor)
    fields = {"taskFunction": "noop", "timezone": "Europe/Berlin"}
    for name, run_at in (("z", "2030-06-01T07:00:00Z"), ("offset", "2030-06-01T08:00:00+01:00")):
        body = fields | {"name": name, "scheduleConfig": {"runAt": run_at}}
        response = api.post("/jobs", body)
        assert response.status_code == 201, response.get_json()
        job = response.get_json()
        assert job["scheduleConfig"] == {"runAt": "2030-06-01T09:00:00"}
        assert job["nextRunTime"] == "2030-06-01T07:00:00Z"


def test_start_and_end_dates_accept_z_and_read_naive_as_wall_time(api_as, editor):
    body = {
        "name": "Bounded",
        "taskFunction": "noop",
        "timezone": "Europe/Berlin",
        "scheduleConfig": {"hours": 1},
        "startDate": "2030-01-01T00:00:00Z",
        "endDate": "2030-02-01",
    }
    response = api_as(editor).post("/jobs", body)
    assert response.status_code == 201, response.get_json()
    job = db.session.get(ScheduledJob, uuid.UUID(response.get_json()["id"]))
    assert job.start_date == datetime(2030, 1, 1, tzinfo=UTC)
    # Midnight in Berlin (winter, UTC+1) is 23:00 UTC the day before.
    assert job.end_date == datetime(2030, 1, 31, 23, tzinfo=UTC)


def test_preview_accepts_a_run_at_with_z(api_as, editor):
    body = {
        "jobType": "date",
        "timezone": "Europe/Berlin",
        "scheduleConfig": {"runAt": "2030-06-01T07:00:00Z"},
    }
    response = api_as(editor).post("/schedule-preview", body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["fireTimes"][0]["utc"] == "2030-06-01T07:00:00Z"
