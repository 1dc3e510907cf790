"""The calendar pages: views, partial vs full page, filters, visibility, bad input."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from babel import Locale

from app.models import utcnow
from app.web.calendar import grid
from tests.test_web_jobs_actions import PARTIAL, sign_in

SOON = utcnow() + timedelta(days=1)


def day_of(moment: datetime) -> str:
    return moment.date().isoformat()


@pytest.fixture
def jobs_and_runs(editor, outsider, make_job, make_execution):
    """An editor's daily job with a failed run yesterday and a missed slot; someone else's job."""
    mine = make_job(
        editor,
        name="Nightly report",
        job_type="cron",
        schedule_config={"expression": "30 2 * * *"},
        timezone="UTC",
        now=utcnow() - timedelta(days=10),
    )
    yesterday = (utcnow() - timedelta(days=1)).replace(hour=2, minute=30, second=0, microsecond=0)
    failed = make_execution(mine, status="failed", scheduled_for=yesterday)
    make_execution(
        mine, status="missed", scheduled_for=yesterday - timedelta(days=1), reason="scheduler down"
    )
    make_job(outsider, name="Their secret job", schedule_config={"hours": 6})
    return mine, failed


@pytest.mark.parametrize("view", ["month", "week", "day", "list"])
def test_every_view_renders_runs_and_occurrences(client, editor, jobs_and_runs, view):
    sign_in(client, editor)
    job, failed = jobs_and_runs
    day = day_of(utcnow() - timedelta(days=1))
    page = client.get(f"/calendar?view={view}&date={day}&zone=UTC")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<html" in html and 'id="calendar"' in html
    assert f"/runs/{failed.id}" in html  # past: the run page
    assert "Nightly report" in html
    assert "Their secret job" not in html  # an editor sees their own jobs only
    future = client.get(f"/calendar?view={view}&date={day_of(SOON)}&zone=UTC")
    assert f"/jobs/{job.id}" in future.get_data(as_text=True)  # future: the job page


def test_partial_answers_only_the_region_and_varies(client, editor, jobs_and_runs):
    sign_in(client, editor)
    full = client.get("/calendar?view=week&zone=UTC")
    part = client.get("/calendar?view=week&zone=UTC", headers=PARTIAL)
    assert part.status_code == 200
    body = part.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="calendar"')
    assert "<html" not in body
    assert "HX-Request" in part.headers["Vary"] and "HX-Request" in full.headers["Vary"]


def test_links_keep_view_date_zone_and_filters(client, editor, jobs_and_runs):
    sign_in(client, editor)
    html = client.get("/calendar?view=week&date=2027-03-10&zone=Asia/Tokyo&q=Nightly").get_data(
        as_text=True
    )
    hrefs = set(re.findall(r'href="(/calendar[^"]*)"', html))
    assert "/calendar?view=week&amp;date=2027-03-03&amp;zone=Asia/Tokyo&amp;q=Nightly" in hrefs
    assert "/calendar?view=week&amp;date=2027-03-17&amp;zone=Asia/Tokyo&amp;q=Nightly" in hrefs
    assert "/calendar?view=day&amp;date=2027-03-10&amp;zone=Asia/Tokyo&amp;q=Nightly" in hrefs
    assert "Times in Asia/Tokyo." in html


def test_month_shows_leading_days_and_dst_day(client, editor):
    sign_in(client, editor)
    html = client.get("/calendar?date=2027-03-14&zone=America/New_York").get_data(as_text=True)
    assert 'data-day="2027-02-28"' in html and 'data-day="2027-04-03"' in html
    assert "Clocks go forward 2:00\u202fAM → 3:00\u202fAM" in html


def test_filters_narrow_the_entries(client, editor, make_job, jobs_and_runs):
    sign_in(client, editor)
    make_job(editor, name="Other job", schedule_config={"hours": 12})
    day = day_of(utcnow() - timedelta(days=1))
    html = client.get(f"/calendar?view=list&date={day}&q=Nightly").get_data(as_text=True)
    assert "Nightly report" in html and "Other job" not in html
    html = client.get(f"/calendar?view=list&date={day}&outcome=missed").get_data(as_text=True)
    assert "scheduler down" in html and "Other job" not in html
    html = client.get(f"/calendar?view=list&date={day}&outcome=failed").get_data(as_text=True)
    assert "scheduler down" not in html and "Nightly report" in html


def test_admin_gets_the_owner_filter_and_editors_do_not(
    client, admin, editor, outsider, jobs_and_runs
):
    sign_in(client, admin)
    url = f"/calendar?view=list&date={day_of(SOON)}&owner={outsider.id}"
    html = client.get(url).get_data(as_text=True)
    assert 'name="owner"' in html
    assert "Their secret job" in html and "Nightly report" not in html


def test_editor_owner_filter_is_ignored(client, editor, outsider, jobs_and_runs):
    sign_in(client, editor)
    url = f"/calendar?view=list&date={day_of(SOON)}&owner={outsider.id}"
    html = client.get(url).get_data(as_text=True)
    assert 'name="owner"' not in html
    assert "Nightly report" in html
    assert "Their secret job" not in html


@pytest.mark.parametrize(
    "query",
    [
        "view=year",
        "date=2026-13-45",
        "date=yesterday",
        "date=0001-01-01",
        "zone=Mars/Olympus",
        "outcome=exploded",
    ],
)
def test_bad_input_is_a_400_not_a_500(client, editor, query):
    sign_in(client, editor)
    assert client.get(f"/calendar?{query}").status_code == 400
    assert client.get(f"/calendar?{query}", headers=PARTIAL).status_code == 400


def test_admin_bad_owner_is_a_400(client, admin):
    sign_in(client, admin)
    assert client.get("/calendar?owner=not-a-uuid").status_code == 400


def test_empty_form_fields_redirect_to_a_clean_url(client, editor):
    sign_in(client, editor)
    answer = client.get("/calendar?view=week&q=&task=&date=2027-01-05")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/calendar?view=week&date=2027-01-05")


def test_signed_out_is_sent_to_sign_in(client):
    assert client.get("/calendar").status_code in (302, 401)


def test_frequent_job_collapses_into_a_bar_in_the_month(client, editor, make_job):
    sign_in(client, editor)
    make_job(
        editor,
        name="Heartbeat",
        schedule_config={"minutes": 1},
        start_date=datetime(2027, 1, 1, tzinfo=UTC),
    )
    html = client.get("/calendar?date=2027-01-10&zone=UTC").get_data(as_text=True)
    assert html.count('data-kind="bar"') == 37  # Jan 1 (its start) to Feb 6, the grid's end
    assert "1,440" in html


def test_arabic_page_is_mirrored_with_arabic_names(client, editor):
    sign_in(client, editor)
    arabic = {"Accept-Language": "ar"}
    html = client.get("/calendar?date=2027-01-10&zone=UTC", headers=arabic).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl"' in html
    assert "يناير" in html  # January


def test_list_view_stops_at_its_row_limit_and_says_how_many_more(
    client, editor, make_job, monkeypatch
):
    from app.web.calendar import grid

    monkeypatch.setattr(grid, "LIST_LIMIT", 5)
    sign_in(client, editor)
    make_job(
        editor,
        name="Twice a day",
        schedule_config={"hours": 12},
        start_date=datetime(2027, 1, 1, tzinfo=UTC),
    )
    html = client.get("/calendar?view=list&date=2027-01-06&zone=UTC").get_data(as_text=True)
    assert html.count('<li class="cal-row') == 5
    assert "9 more entries are not listed" in html  # 14 in the week


def test_jobs_sharing_a_rule_share_its_times(editor, outsider, make_job):
    from zoneinfo import ZoneInfo

    from app.extensions import db
    from app.services.calendar.entries import Filters, calendar_window
    from app.services.calendar.window import window_for

    before = datetime(2027, 1, 2, tzinfo=UTC)
    for name, start in (("a", None), ("b", None), ("c", datetime(2027, 1, 6, tzinfo=UTC))):
        make_job(
            editor,
            name=name,
            now=before,
            job_type="cron",
            schedule_config={"expression": "0 6 * * *"},
            start_date=start,
        )
    window = window_for("week", date(2027, 1, 5), ZoneInfo("UTC"), 6)
    data = calendar_window(db.session, editor.user, window, Filters(), before, 100)
    days = {name: [e.start.day for e in data.entries if e.job.name == name] for name in "abc"}
    assert days == {"a": [3, 4, 5, 6, 7, 8, 9], "b": [3, 4, 5, 6, 7, 8, 9], "c": [6, 7, 8, 9]}


def test_partial_and_page_show_the_same_entries(client, editor, jobs_and_runs):
    sign_in(client, editor)
    url = f"/calendar?view=week&date={day_of(utcnow() - timedelta(days=1))}&zone=UTC"
    links = re.compile(r'href="(/(?:runs|jobs)/[0-9a-f-]{36})"')
    page = links.findall(client.get(url).get_data(as_text=True))
    part = links.findall(client.get(url, headers=PARTIAL).get_data(as_text=True))
    assert page == part and page


def test_a_full_month_cell_offers_more_which_opens_the_day(client, editor, make_job):
    sign_in(client, editor)
    for hour in range(6):
        make_job(editor, name=f"At {hour}", job_type="cron", timezone="UTC",
                 schedule_config={"expression": f"0 {hour} * * *"},
                 now=datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    html = client.get("/calendar?date=2027-01-10&zone=UTC").get_data(as_text=True)
    assert "+3 more" in html  # six entries, three shown and the link
    assert 'href="/calendar?view=day&amp;date=2027-01-10&amp;zone=UTC"' in html


def test_a_week_column_lists_a_few_bars_then_more_which_opens_the_day(client, editor, make_job):
    sign_in(client, editor)
    for number in range(8):
        make_job(editor, name=f"Beat {number}", schedule_config={"minutes": 1},
                 start_date=datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    html = client.get("/calendar?view=week&date=2027-01-13&zone=UTC").get_data(as_text=True)
    assert html.count('data-kind="bar"') == 7 * 5  # five bars a day, then the link
    assert html.count("+3 more") == 7
    assert 'href="/calendar?view=day&amp;date=2027-01-13&amp;zone=UTC"' in html
    day = client.get("/calendar?view=day&date=2027-01-13&zone=UTC").get_data(as_text=True)
    assert day.count('data-kind="bar"') == 8  # a day column has room for all eight


def test_entries_open_in_the_sheet_with_js_and_link_their_page_without(
    client, editor, jobs_and_runs
):
    sign_in(client, editor)
    job, failed = jobs_and_runs
    day = day_of(utcnow() - timedelta(days=1))
    for view in ("month", "list"):
        past = client.get(f"/calendar?view={view}&date={day}&zone=UTC").get_data(as_text=True)
        run = f"/runs/{failed.id}"
        assert f'href="{run}" hx-get="{run}?sheet=1" hx-target="#job-sheet-body"' in past
        future = client.get(f"/calendar?view={view}&date={day_of(SOON)}&zone=UTC")
        page = f"/jobs/{job.id}"
        assert f'href="{page}" hx-get="{page}?sheet=1"' in future.get_data(as_text=True)
    # The sheet is outside the swapped region: on the page once, never in the partial.
    assert past.count('<dialog id="job-sheet"') == 1
    assert 'data-dialog-open="job-sheet"' in past and "hx-push-url" not in past.split(run)[1][:200]
    part = client.get(f"/calendar?view=list&date={day}&zone=UTC", headers=PARTIAL)
    assert 'id="job-sheet"' not in part.get_data(as_text=True)


@pytest.mark.parametrize("view", ["month", "week", "day", "list"])
def test_too_many_jobs_show_totals_and_say_how_to_narrow(
    client, editor, jobs_and_runs, make_job, app, monkeypatch, view
):
    _job, failed = jobs_and_runs
    before = utcnow() - timedelta(days=5)
    make_job(editor, name="Zeta", now=before, schedule_config={"hours": 1})
    make_job(editor, name="Omega", now=before, schedule_config={"minutes": 30})
    make_job(editor, name="Zulu", now=before, schedule_config={"hours": 2})
    monkeypatch.setitem(app.config, "CALENDAR_AGGREGATE_AFTER", 3)
    sign_in(client, editor)
    day = day_of(utcnow() - timedelta(days=1))
    html = client.get(f"/calendar?view={view}&date={day}&zone=UTC").get_data(as_text=True)
    assert 'class="cal-aggregated"' in html and "Filter by job" in html
    assert "All jobs · " in html and "cal-summary" in html
    assert "Their secret job" not in html
    assert f"/runs/{failed.id}" in html  # the first jobs by name are still drawn one by one
    html = client.get(f"/calendar?view={view}&date={day_of(SOON)}&zone=UTC").get_data(as_text=True)
    assert "Zeta" in html and "Zulu" not in html  # the fourth by name: only in the totals
    arabic = client.get(
        f"/calendar?view={view}&date={day}&zone=UTC", headers={"Accept-Language": "ar"}
    )
    assert "كل المهام · التشغيلات" in arabic.get_data(as_text=True)
    monkeypatch.setitem(app.config, "CALENDAR_AGGREGATE_AFTER", 4)
    html = client.get(f"/calendar?view={view}&date={day}&zone=UTC").get_data(as_text=True)
    assert "cal-aggregated" not in html and "All jobs · " not in html


@pytest.mark.parametrize(
    ("value", "english", "arabic"),
    [
        (0, "0", "0"),
        (293, "293", "293"),
        (1440, "1.4K", "1.4 ألف"),
        (12_345, "12K", "12 ألف"),
        (1_440_000, "1.4M", "1.4 مليون"),
    ],
)
def test_a_phone_month_shows_counts_in_a_few_characters(value, english, arabic):
    assert grid.compact(value, Locale.parse("en")) == english
    assert grid.compact(value, Locale.parse("ar")) == arabic
