"""The ICS subscription: a hashed, revocable token per user, parsed back with icalendar."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from app.extensions import db
from app.models import CalendarFeedToken, utcnow
from app.services.calendar import entries as cal
from app.services.calendar import subscription
from tests.test_auth import csrf_token
from tests.test_web_jobs_actions import sign_in


def feed_path(client) -> str:
    """Make a subscription address through the page and read it off the page, once."""
    token = csrf_token(client, "/calendar")
    answer = client.post("/calendar/feed", data={"csrf_token": token})
    assert answer.status_code == 303
    html = client.get("/calendar").get_data(as_text=True)
    url = re.search(r'id="cal-feed-url" type="text" readonly dir="ltr" value="([^"]+)"', html)
    assert url, "the new address is shown"
    again = client.get("/calendar").get_data(as_text=True)
    assert url.group(1) not in again  # shown once
    return url.group(1).removeprefix("http://localhost")


def events(body: bytes):
    return list(Calendar.from_ical(body).walk("VEVENT"))


def test_subscription_lists_next_30_days_in_each_jobs_zone(app, client, editor, outsider, make_job):
    sign_in(client, editor)
    job = make_job(
        editor,
        name="Berlin morning",
        job_type="cron",
        schedule_config={"expression": "0 9 * * *"},
        timezone="Europe/Berlin",
    )
    make_job(
        outsider, name="Not mine", job_type="cron", schedule_config={"expression": "0 9 * * *"}
    )
    path = feed_path(client)
    answer = app.test_client().get(path)  # no session: the token is the key
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/calendar")
    parsed = Calendar.from_ical(answer.data)
    assert [tz["TZID"] for tz in parsed.walk("VTIMEZONE")] == ["Europe/Berlin"]
    found = events(answer.data)
    assert {str(e["SUMMARY"]) for e in found} == {"Berlin morning"}
    starts = [e["DTSTART"].dt for e in found]
    assert all(s.tzinfo == ZoneInfo("Europe/Berlin") and s.hour == 9 for s in starts)
    assert 29 <= len(starts) <= 31
    assert starts[0] > utcnow() and starts[-1] <= utcnow() + timedelta(days=30)
    assert str(found[0]["URL"]).endswith(f"/jobs/{job.id}")
    # The same occurrences as the JSON feed gives for that span.
    first = starts[0].astimezone(UTC)
    end = first + timedelta(days=3)
    span = f"start={first:%Y-%m-%dT%H:%M:%SZ}&end={end:%Y-%m-%dT%H:%M:%SZ}"
    api = client.get(f"/api/v1/calendar?{span}", headers=editor.headers).get_json()
    assert [e["start"] for e in api] == [
        f"{s.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" for s in starts if s.astimezone(UTC) < end
    ]


def test_only_a_hash_is_stored_and_a_new_address_revokes_the_old(client, editor):
    sign_in(client, editor)
    old = feed_path(client)
    token = old.rsplit("/", 1)[1].removesuffix(".ics")
    stored = db.session.scalars(select(CalendarFeedToken.token_hash)).all()
    assert token not in stored and len(stored) == 1
    new = feed_path(client)
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_revoked_address_stops_working(client, editor):
    sign_in(client, editor)
    path = feed_path(client)
    page = client.post(
        "/calendar/feed/revoke", data={"csrf_token": csrf_token(client, "/calendar")}
    )
    assert page.status_code == 303
    assert client.get(path).status_code == 404


def test_posts_need_csrf_and_unknown_tokens_are_404(client, editor):
    sign_in(client, editor)
    assert client.post("/calendar/feed").status_code == 400
    assert client.get("/calendar/feed/cal_nope.ics").status_code == 404


def test_deactivated_users_feed_stops(client, editor):
    path_user = editor.user
    token = subscription.create_feed(db.session, path_user, utcnow())
    assert client.get(f"/calendar/feed/{token}.ics").status_code == 200
    path_user.is_active_user = False
    db.session.commit()
    assert client.get(f"/calendar/feed/{token}.ics").status_code == 404


def test_paused_slots_are_tentative_and_the_cap_is_said(editor, make_job, monkeypatch):
    from app.services.scheduling import jobs

    job = make_job(editor, job_type="cron", schedule_config={"expression": "0 * * * *"})
    jobs.apply_action(db.session, editor.user, job.id, "pause", utcnow())
    db.session.commit()
    monkeypatch.setattr(cal, "MAX_OCCURRENCES", 5)
    body = subscription.ics_calendar(db.session, editor.user, utcnow(), lambda j: "/x")
    parsed = Calendar.from_ical(body)
    assert len(events(body)) == 5
    assert {str(e["STATUS"]) for e in events(body)} == {"TENTATIVE"}
    assert str(parsed["X-ALMANAC-CAPPED"]) == "true"


@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Lord_Howe"])
def test_dst_zones_get_their_own_vtimezone(editor, make_job, zone):
    make_job(editor, job_type="cron", schedule_config={"expression": "30 2 * * *"}, timezone=zone)
    body = subscription.ics_calendar(
        db.session, editor.user, datetime(2027, 3, 1, tzinfo=UTC), lambda j: "/x"
    )
    parsed = Calendar.from_ical(body)
    assert [tz["TZID"] for tz in parsed.walk("VTIMEZONE")] == [zone]
    local = [e["DTSTART"].dt for e in events(body)]
    assert all(str(s.tzinfo) == zone for s in local)
