"""Row actions of the jobs table: run now and its live status, pause, resume, enable, disable,
delete; with htmx (row swapped, toast) and without (redirect, flash); permissions and CSRF."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import Execution, ScheduledJob, utcnow
from app.services.scheduling import jobs
from tests.conftest import PASSWORD
from tests.test_auth import csrf_token, post_login

PARTIAL = {"HX-Request": "true"}


def sign_in(client, persona):
    post_login(client, persona.user.email, PASSWORD)
    return persona


def form(client, **fields):
    """A form body with the CSRF token of the jobs page."""
    return {"csrf_token": csrf_token(client, "/jobs")} | fields


def fresh(job: ScheduledJob) -> ScheduledJob:
    db.session.expire_all()
    return db.session.get(ScheduledJob, job.id)


def toast(response) -> dict:
    return json.loads(response.headers["HX-Trigger"])["toast"]


@pytest.fixture
def mine(client, editor, make_job):
    sign_in(client, editor)
    return make_job(editor, name="Nightly report")


def test_pause_with_htmx_swaps_the_row_and_sends_a_toast(client, mine):
    at = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    body = form(client, reason="db upgrade", resume_at=at.strftime("%Y-%m-%dT%H:%M"))
    response = client.post(f"/jobs/{mine.id}/pause", data=body, headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="job-row-{mine.id}"')
    assert 'data-status="paused"' in html
    assert toast(response) == {"message": "Job paused.", "level": "success"}
    job = fresh(mine)
    assert (job.is_paused, job.paused_reason, job.resume_at) == (True, "db upgrade", at)


def test_pause_without_js_is_a_page_then_a_redirect_with_a_flash(client, mine):
    page = client.get(f"/jobs/{mine.id}/pause?next=/jobs%3Fq%3Dnight")
    assert page.status_code == 200
    assert 'name="reason"' in page.get_data(as_text=True)
    response = client.post(f"/jobs/{mine.id}/pause", data=form(client, next="/jobs?q=night"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/jobs?q=night"
    assert "Job paused." in client.get("/jobs?q=night").get_data(as_text=True)
    assert fresh(mine).is_paused


@pytest.mark.parametrize(
    ("value", "message"),
    [("tomorrow-ish", "Enter a date and time"), ("2001-01-01T10:00", "must be in the future")],
)
def test_bad_resume_time_is_explained_and_nothing_is_written(client, mine, value, message):
    response = client.post(f"/jobs/{mine.id}/pause", data=form(client, resume_at=value))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert not fresh(mine).is_paused


def test_bad_resume_time_with_htmx_keeps_the_row_and_says_why(client, mine):
    response = client.post(
        f"/jobs/{mine.id}/pause", data=form(client, resume_at="2001-01-01T10:00"), headers=PARTIAL
    )
    assert response.status_code == 200
    assert toast(response)["level"] == "error"
    assert not fresh(mine).is_paused


def test_resume_enable_and_disable(client, mine):
    jobs.apply_action(db.session, fresh_user(mine), mine, "pause", utcnow())
    client.post(f"/jobs/{mine.id}/resume", data=form(client))
    assert not fresh(mine).is_paused
    response = client.post(f"/jobs/{mine.id}/disable", data=form(client), headers=PARTIAL)
    assert 'data-status="disabled"' in response.get_data(as_text=True)
    assert not fresh(mine).is_enabled
    client.post(f"/jobs/{mine.id}/enable", data=form(client))
    assert fresh(mine).is_enabled


def fresh_user(job):
    from app.models import User

    return db.session.get(User, job.owner_id)


def test_resuming_a_running_job_is_refused_with_a_message(client, mine):
    response = client.post(f"/jobs/{mine.id}/resume", data=form(client), headers=PARTIAL)
    assert toast(response) == {"message": "The job is not paused.", "level": "error"}
    plain = client.post(f"/jobs/{mine.id}/resume", data=form(client))
    assert plain.status_code == 303
    assert "The job is not paused." in client.get("/jobs").get_data(as_text=True)


def test_delete_needs_a_confirmation_without_js(client, mine):
    page = client.get(f"/jobs/{mine.id}/delete")
    assert 'name="confirmed" value="1"' in page.get_data(as_text=True)
    unconfirmed = client.post(f"/jobs/{mine.id}/delete", data=form(client))
    assert unconfirmed.status_code == 200
    assert fresh(mine).deleted_at is None
    done = client.post(f"/jobs/{mine.id}/delete", data=form(client, confirmed="1"))
    assert done.status_code == 303
    assert fresh(mine).deleted_at is not None


def test_delete_with_htmx_removes_the_row(client, mine):
    response = client.post(
        f"/jobs/{mine.id}/delete", data=form(client, confirmed="1"), headers=PARTIAL
    )
    assert response.get_data(as_text=True) == ""
    assert "deleted" in toast(response)["message"]
    assert fresh(mine).deleted_at is not None


def test_row_delete_form_asks_in_a_dialog_first(client, mine):
    html = client.get("/jobs").get_data(as_text=True)
    assert re.search(r'data-confirm="Delete the job “Nightly report”', html)
    assert f'<dialog id="pause-{mine.id}"' in html
    assert f'hx-post="/jobs/{mine.id}/disable" hx-target="#job-row-{mine.id}"' in html


def test_actions_partial_stands_alone_for_other_pages(app, editor, make_job):
    from flask import render_template_string
    from flask_login import login_user

    job = make_job(editor, name="Alone")
    with app.test_request_context(f"/jobs/{job.id}"):
        login_user(editor.user)
        html = render_template_string('{% include "jobs/_actions.html" %}', job=job)
    assert f'action="/jobs/{job.id}/disable"' in html
    assert 'name="next" value="/jobs/' in html
    assert "#job-row-" not in html  # plain POST-redirect-GET outside the table
    assert f'hx-post="/jobs/{job.id}/run"' in html  # run now is live everywhere


def test_post_without_csrf_token_is_refused_and_writes_nothing(client, mine):
    response = client.post(f"/jobs/{mine.id}/pause", data={"reason": "x"})
    assert response.status_code == 400
    assert not fresh(mine).is_paused


def test_viewer_sees_no_write_controls_and_posting_anyway_is_403(client, editor, viewer, make_job):
    job = make_job(editor, name="Theirs")
    sign_in(client, viewer)
    html = client.get("/jobs").get_data(as_text=True)
    assert "Theirs" in html
    for control in ("Run now", 'id="bulk-form"', "/pause", "/delete"):
        assert control not in html
    assert client.post(f"/jobs/{job.id}/pause", data=form(client)).status_code == 403
    assert client.post(f"/jobs/{job.id}/run", data=form(client)).status_code == 403
    assert client.post("/jobs/bulk", data=form(client, action="pause", all="1")).status_code == 403
    assert not fresh(job).is_paused


def test_editor_acting_on_another_editors_job_gets_404(client, editor, outsider, make_job):
    theirs = make_job(outsider, name="Theirs")
    sign_in(client, editor)
    for path in ("pause", "resume", "disable", "delete", "run"):
        assert client.post(f"/jobs/{theirs.id}/{path}", data=form(client)).status_code == 404
    assert client.get(f"/jobs/{theirs.id}/pause").status_code == 404


def test_system_task_job_shows_no_actions_to_its_editor_owner(client, admin, editor):
    job = jobs.create_job(
        db.session, admin.user,
        {"name": "Cleanup", "task_function": "cleanup_history", "schedule_config": {"hours": 1},
         "owner_id": editor.id},
        utcnow(),
    )  # fmt: skip
    sign_in(client, editor)
    html = client.get("/jobs").get_data(as_text=True)
    assert "Cleanup" in html and f"/jobs/{job.id}/run" not in html
    assert client.post(f"/jobs/{job.id}/disable", data=form(client)).status_code == 403
    assert fresh(job).is_enabled


def test_run_now_with_htmx_shows_a_status_that_polls_itself(client, mine):
    response = client.post(f"/jobs/{mine.id}/run", data=form(client), headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert 'data-status="queued"' in html
    run = db.session.query(Execution).filter_by(job_id=mine.id).one()
    assert f'hx-get="/jobs/runs/{run.id}/status" hx-trigger="every 1s"' in html


def test_run_status_stops_polling_once_the_run_ended(client, mine, make_execution):
    run = make_execution(mine, status="queued")
    polling = client.get(f"/jobs/runs/{run.id}/status", headers=PARTIAL).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in polling
    run.status, run.duration_seconds = "success", 4.25
    db.session.commit()
    ended = client.get(f"/jobs/runs/{run.id}/status", headers=PARTIAL).get_data(as_text=True)
    assert "hx-trigger" not in ended
    assert 'data-status="success"' in ended and "4.2 s" in ended
    assert f'hx-post="/jobs/{mine.id}/run"' in ended and "Run again" in ended
    assert "<html" in client.get(f"/jobs/runs/{run.id}/status").get_data(as_text=True)


def test_run_status_of_a_job_one_may_not_see_is_404(client, editor, outsider, make_job,
                                                      make_execution):  # fmt: skip
    run = make_execution(make_job(outsider, name="Theirs"))
    sign_in(client, editor)
    assert client.get(f"/jobs/runs/{run.id}/status").status_code == 404


def test_run_now_without_js_goes_to_the_run_page(client, mine):
    response = client.post(f"/jobs/{mine.id}/run", data=form(client, next="/jobs?sort=-name"))
    assert response.status_code == 303
    run = db.session.query(Execution).filter_by(job_id=mine.id).one()
    assert response.headers["Location"] == f"/runs/{run.id}"
    assert client.get(f"/runs/{run.id}").status_code == 200


def test_next_never_leaves_the_site(client, mine):
    response = client.post(f"/jobs/{mine.id}/disable", data=form(client, next="//evil.example"))
    assert response.headers["Location"] == "/"


def test_an_htmx_action_refused_is_said_in_a_toast(client, mine, outsider, make_job):
    theirs = make_job(outsider, name="Not yours")
    htmx = {"HX-Request": "true"}
    response = client.post(f"/jobs/{theirs.id}/disable", data=form(client), headers=htmx)
    assert response.status_code == 404
    assert toast(response)["level"] == "error"
    assert toast(response)["message"] == "No such job."
    # Without htmx it stays a plain error page, with no header for a script.
    plain = client.post(f"/jobs/{theirs.id}/disable", data=form(client))
    assert plain.status_code == 404
    assert "HX-Trigger" not in plain.headers
