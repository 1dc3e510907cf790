"""The jobs table's columns, filters, sorts, bulk actions, live row changes and query count."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import ScheduledJob, utcnow
from app.services.scheduling import jobs
from tests.conftest import counted_statements
from tests.test_auth import csrf_token
from tests.test_web_jobs import names_in
from tests.test_web_jobs_actions import PARTIAL, form, fresh, sign_in


def test_queries_per_page_do_not_grow_with_rows(client, admin, editor, make_job, make_execution):
    sign_in(client, admin)
    counts = []
    for total in (5, 20):
        while db.session.query(ScheduledJob).count() < total:
            job = make_job(editor, name=f"job {db.session.query(ScheduledJob).count():02d}")
            make_execution(job, status="success", duration_seconds=1.5)
            make_execution(job, status="failed")
        client.get("/jobs")  # warm caches (catalogue, session user)
        with counted_statements() as statements:
            html = client.get("/jobs").get_data(as_text=True)
        assert len(names_in(html)) == total
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_row_shows_schedule_in_words_outcome_duration_counts_and_owner(
    client, admin, editor, make_job, make_execution
):
    cron = {"expression": "0 2 * * 1-5"}
    job = make_job(
        editor, name="Weekdays", job_type="cron", schedule_config=cron, timezone="Europe/Berlin"
    )
    make_execution(job, status="success", duration_seconds=2.0)
    make_execution(job, status="failed", duration_seconds=3.0)
    sign_in(client, admin)
    html = client.get("/jobs").get_data(as_text=True)
    assert "At 02:00, Monday through Friday" in html
    assert '<bdi dir="ltr" class="ltr">0 2 * * 1-5</bdi>' in html
    assert 'data-status="failed"' in html and "3.0 s" in html
    assert re.search(r'data-label="Runs \(24 h\)" class="num"><div>2</div>', html)
    assert re.search(
        r'data-label="Failures \(24 h\)" class="num"><div class="bad-count">1</div>', html
    )
    assert "<bdi>editor@example.com</bdi>" in html


def test_editor_sees_no_owner_column_and_cannot_filter_by_owner(client, editor, make_job):
    make_job(editor, name="Mine")
    sign_in(client, editor)
    html = client.get(f"/jobs?owner={editor.id}").get_data(as_text=True)
    assert 'id="f-owner"' not in html and ">Owner</th>" not in html
    assert names_in(html) == ["Mine"]


def test_interval_and_one_off_in_words_in_arabic(client, editor, make_job):
    make_job(editor, name="Often", schedule_config={"hours": 2, "minutes": 30})
    make_job(editor, name="Cron", job_type="cron", schedule_config={"expression": "5 * * * *"})
    sign_in(client, editor)
    client.post("/preferences", data={"csrf_token": csrf_token(client, "/jobs"), "lang": "ar"})
    html = client.get("/jobs").get_data(as_text=True)
    assert "كل ساعتين 30 دقيقة" in html
    # cron-descriptor has no Arabic: its English words are marked as English, left to right.
    assert '<span class="words" lang="en" dir="ltr">At 5 minutes past the hour</span>' in html


def test_filters_by_state_task_outcome_and_owner(client, admin, editor, outsider, make_job):
    paused = make_job(editor, name="Paused one")
    jobs.apply_action(db.session, editor.user, paused, "pause", utcnow())
    failed = make_job(outsider, name="Failing one", task_function="sleep")
    failed.last_status = "failed"
    db.session.commit()
    sign_in(client, admin)
    assert names_in(client.get("/jobs?state=paused").get_data(as_text=True)) == ["Paused one"]
    assert names_in(client.get("/jobs?task=sleep").get_data(as_text=True)) == ["Failing one"]
    assert names_in(client.get("/jobs?outcome=failed").get_data(as_text=True)) == ["Failing one"]
    by_owner = client.get(f"/jobs?owner={outsider.id}").get_data(as_text=True)
    assert names_in(by_owner) == ["Failing one"]
    assert f'<option value="{outsider.id}" selected>' in by_owner
    # Unknown values are ignored rather than failing.
    assert len(names_in(client.get("/jobs?state=bogus&owner=nope").get_data(as_text=True))) == 2


def test_filter_state_stays_in_sort_and_page_links(client, editor, make_job):
    for number in range(21):
        make_job(editor, name=f"job {number:02d}", task_function="sleep")
    sign_in(client, editor)
    html = client.get("/jobs?task=sleep&sort=tz").get_data(as_text=True)
    assert 'href="/?task=sleep&amp;sort=tz&amp;page=2"' in html
    assert 'href="/?task=sleep&amp;sort=-tz"' in html


@pytest.mark.parametrize("sort", ["tz", "-tz", "last", "-last", "state", "-state"])
def test_every_sortable_column_sorts(client, editor, make_job, sort):
    make_job(editor, name="b", timezone="Asia/Tokyo")
    make_job(editor, name="a", timezone="America/Lima")
    sign_in(client, editor)
    assert client.get(f"/jobs?sort={sort}").status_code == 200
    if sort in ("tz", "-tz"):
        expected = ["a", "b"] if sort == "tz" else ["b", "a"]
        assert names_in(client.get(f"/jobs?sort={sort}").get_data(as_text=True)) == expected


def test_empty_table_without_filters_says_so(client, editor):
    sign_in(client, editor)
    html = client.get("/jobs").get_data(as_text=True)
    assert "No jobs yet." in html
    assert 'id="bulk-form"' not in html


def test_table_reloads_itself_after_a_save_in_the_sheet(client, editor, make_job):
    make_job(editor, name="x")
    sign_in(client, editor)
    html = client.get("/jobs?q=x").get_data(as_text=True)
    assert 'hx-get="/?q=x" hx-trigger="jobSaved from:body"' in html
    sheet = '<dialog id="job-sheet" class="sheet" aria-labelledby="job-sheet-title job-form-title">'
    assert sheet in html


def test_changes_returns_only_rows_changed_since(client, editor, make_job, make_execution):
    quiet = make_job(editor, name="Quiet")
    busy = make_job(editor, name="Busy")
    sign_in(client, editor)
    page = client.get("/jobs").get_data(as_text=True)
    poll = re.search(r'<div id="jobs-changes" hidden hx-get="([^"]+)"', page).group(1)
    assert 'hx-trigger="every 5s"' in page
    nothing = client.get(poll.replace("&amp;", "&"), headers=PARTIAL)
    assert nothing.headers["Cache-Control"] == "no-store"
    assert "<tr" not in nothing.get_data(as_text=True)
    make_execution(busy, status="running", started_at=utcnow() + timedelta(seconds=1))
    changed = client.get(poll.replace("&amp;", "&"), headers=PARTIAL).get_data(as_text=True)
    assert f'<tr id="job-row-{busy.id}" hx-swap-oob="true">' in changed
    assert f"job-row-{quiet.id}" not in changed
    assert 'id="jobs-changes"' in changed


def test_changes_ignores_bad_input_and_jobs_one_may_not_see(client, editor, outsider, make_job):
    theirs = make_job(outsider, name="Theirs")
    sign_in(client, editor)
    response = client.get(f"/jobs/changes?since=nonsense&ids=zz,{theirs.id}", headers=PARTIAL)
    assert response.status_code == 200
    since = (utcnow() - timedelta(days=1)).isoformat()
    html = client.get(f"/jobs/changes?since={since}&ids={theirs.id}").get_data(as_text=True)
    assert "Theirs" not in html


def test_bulk_resume_of_ticked_rows_confirms_then_reports(client, editor, make_job):
    one, two = make_job(editor, name="one"), make_job(editor, name="two")
    jobs.apply_action(db.session, editor.user, one, "pause", utcnow())
    sign_in(client, editor)
    body = form(client, action="resume", ids=[str(one.id), str(two.id)], q="o")
    confirm = client.post("/jobs/bulk", data=body)
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Resume: 2 jobs?" in page
    assert fresh(one).is_paused
    done = client.post("/jobs/bulk", data=body | {"confirmed": "1"})
    assert done.headers["Location"] == "/?q=o"
    html = client.get("/?q=o").get_data(as_text=True)
    assert not fresh(one).is_paused
    assert "1 job resumed; 1 skipped: The job is not paused." in html


def test_bulk_all_matching_the_filter(client, editor, make_job):
    for number in range(3):
        make_job(editor, name=f"night {number}")
    make_job(editor, name="day")
    sign_in(client, editor)
    assert "All 3 jobs matching this view" in client.get("/jobs?q=night").get_data(as_text=True)
    body = form(client, action="disable", all="1", q="night")
    assert "Disable: 3 jobs?" in client.post("/jobs/bulk", data=body).get_data(as_text=True)
    client.post("/jobs/bulk", data=body | {"confirmed": "1"})
    enabled = {job.name: job.is_enabled for job in db.session.query(ScheduledJob)}
    assert enabled == {"night 0": False, "night 1": False, "night 2": False, "day": True}
    assert "3 jobs disabled" in client.get("/jobs?q=night").get_data(as_text=True)


@pytest.mark.parametrize(
    "fields",
    [{"action": "explode", "all": "1"}, {"action": "pause"}, {"action": "pause", "ids": "nope"}],
)
def test_bulk_bad_input_is_explained_and_changes_nothing(client, editor, make_job, fields):
    job = make_job(editor, name="one")
    sign_in(client, editor)
    response = client.post("/jobs/bulk", data=form(client, **fields))
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="flash flash-error"' in html
    assert not fresh(job).is_paused


def test_empty_form_fields_are_dropped_from_the_url(client, editor):
    sign_in(client, editor)
    plain = client.get("/jobs?q=x&state=&task=&outcome=")
    assert plain.status_code == 302
    assert plain.headers["Location"] == "/?q=x"
    partial = client.get("/jobs?q=x&state=&task=", headers=PARTIAL)
    assert partial.status_code == 200
    assert partial.headers["HX-Push-Url"] == "/?q=x"
