"""The job editor: /jobs/new, /jobs/<id>/edit, the field check and the live preview."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ScheduledJob
from tests.conftest import PASSWORD
from tests.test_auth import csrf_token, post_login

PARTIAL = {"HX-Request": "true"}


def sign_in(client, persona):
    post_login(client, persona.user.email, PASSWORD)
    return persona


def job_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ScheduledJob)) or 0


def form_data(client, **changes):
    """A valid cron job as the form posts it."""
    data = {
        "csrf_token": csrf_token(client, "/jobs/new"),
        "name": "Nightly report",
        "description": "",
        "task_function": "noop",
        "schedule_type": "cron",
        "cron_expression": "30 6 * * 1-5",
        "timezone": "Europe/Paris",
        "jitter_seconds": "0",
        "misfire_policy": "run_once",
        "misfire_grace_seconds": "60",
        "max_instances": "1",
        "overlap_policy": "skip",
        "timeout_seconds": "300",
        "retry_count": "2",
        "retry_delay_seconds": "60",
        "retry_backoff": "exponential",
        "retry_max_delay_seconds": "3600",
        "retry_jitter_seconds": "0",
        "max_consecutive_failures": "0",
        "queue": "",
        "is_enabled": "y",
        "action": "save",
    }
    return data | changes


def error_of(html: str, field: str) -> str:
    match = re.search(
        rf'<p id="err-{re.escape(field)}" class="field-error"[^>]*>(.*?)</p>', html, re.S
    )
    assert match, f"no error slot for {field}"
    return re.sub(r"<[^>]+>", "", match.group(1)).replace("⚠", "").strip()


def test_new_page_is_a_whole_page_with_the_form(client, editor):
    sign_in(client, editor)
    response = client.get("/jobs/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.startswith("<!doctype html>")
    assert 'id="job-form"' in html
    assert 'list="tz-list"' in html and '<option value="Europe/Paris">' in html
    assert 'name="in_sheet"' not in html
    assert "HX-Request" in response.vary


def test_htmx_get_gives_only_the_form_for_the_sheet(client, editor):
    sign_in(client, editor)
    html = client.get("/jobs/new", headers=PARTIAL).get_data(as_text=True)
    assert html.lstrip().startswith("<form")
    assert 'name="in_sheet" value="1"' in html
    assert "data-dialog-close" in html


def test_create_without_js_redirects_to_the_job_page_with_a_flash(client, editor):
    sign_in(client, editor)
    response = client.post("/jobs/new", data=form_data(client))
    assert response.status_code == 303
    job = db.session.scalars(select(ScheduledJob)).one()
    assert response.headers["Location"].endswith(f"/jobs/{job.id}")
    assert job.schedule_config == {"expression": "30 6 * * 1-5"}
    assert job.timezone == "Europe/Paris" and job.retry_count == 2
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Job created." in page


def test_create_in_the_sheet_answers_job_saved_and_a_toast(client, editor):
    sign_in(client, editor)
    response = client.post("/jobs/new", data=form_data(client, in_sheet="1"), headers=PARTIAL)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == ""
    events = json.loads(response.headers["HX-Trigger"])
    job = db.session.scalars(select(ScheduledJob)).one()
    assert events["jobSaved"] == {"id": str(job.id)}
    assert events["toast"]["level"] == "success"


def test_bad_input_shows_errors_next_to_fields_and_writes_nothing(client, editor):
    sign_in(client, editor)
    data = form_data(client, cron_expression="61 * * * *", retry_count="1000", timezone="Mars/Base")
    response = client.post("/jobs/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert job_count() == 0
    assert error_of(html, "timezone")
    # The zone is checked first; with a good zone the other fields speak.
    data = form_data(client, cron_expression="61 * * * *", retry_count="1000")
    html = client.post("/jobs/new", data=data).get_data(as_text=True)
    assert error_of(html, "retry_count") == "must be between 0 and 100"
    assert job_count() == 0


def test_bad_cron_is_shown_next_to_the_expression(client, editor):
    sign_in(client, editor)
    html = client.post("/jobs/new", data=form_data(client, cron_expression="61 * * * *")).get_data(
        as_text=True
    )
    assert error_of(html, "cron_expression")
    assert 'aria-invalid="true"' in html
    assert job_count() == 0


def test_errors_in_the_sheet_come_back_as_the_form_with_200(client, editor):
    sign_in(client, editor)
    data = form_data(client, name="", in_sheet="1")
    response = client.post("/jobs/new", data=data, headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith("<form")
    assert error_of(html, "name")
    assert job_count() == 0


def test_interval_and_one_off_schedules(client, editor):
    sign_in(client, editor)
    data = form_data(client, schedule_type="interval", interval_hours="2", interval_minutes="30")
    assert client.post("/jobs/new", data=data).status_code == 303
    job = db.session.scalars(select(ScheduledJob)).one()
    assert job.job_type.name == "interval"
    assert job.schedule_config == {"hours": 2, "minutes": 30}
    data = form_data(client, schedule_type="interval", name="empty interval")
    html = client.post("/jobs/new", data=data).get_data(as_text=True)
    assert error_of(html, "interval")
    data = form_data(client, schedule_type="date", run_at="2999-01-01T09:00", name="once")
    assert client.post("/jobs/new", data=data).status_code == 303


def test_task_arguments_are_typed_fields(client, editor):
    sign_in(client, editor)
    data = form_data(client, task_function="flaky", **{"arg-failure_rate": "0.25", "arg-seed": "7"})
    assert client.post("/jobs/new", data=data).status_code == 303
    job = db.session.scalars(select(ScheduledJob)).one()
    assert job.task_args == {"failure_rate": 0.25, "seed": 7}
    data = form_data(client, task_function="flaky", name="bad", **{"arg-seed": "seven"})
    html = client.post("/jobs/new", data=data).get_data(as_text=True)
    assert error_of(html, "arg-seed") == "must be a whole number"
    assert job_count() == 1


def test_http_task_fields_lists_and_json(client, editor):
    sign_in(client, editor)
    args = {
        "arg-url": "https://example.com/ping",
        "arg-method": "POST",
        "arg-expected_status": "200\n204",
        "arg-body": '{"hello": "world"}',
        "arg-follow_redirects": "on",
    }
    data = form_data(client, task_function="http_request", **args)
    assert client.post("/jobs/new", data=data).status_code == 303
    job = db.session.scalars(select(ScheduledJob)).one()
    assert job.task_args["expected_status"] == [200, 204]
    assert job.task_args["body"] == {"hello": "world"}
    assert job.task_args["follow_redirects"] is True
    html = client.get(f"/jobs/{job.id}/edit").get_data(as_text=True)
    assert '<select id="arg-method"' in html and '<option value="POST" selected>' in html
    assert "200\n204</textarea>" in html


def test_changing_the_task_re_renders_its_arguments_without_saving(client, editor):
    sign_in(client, editor)
    data = form_data(client, task_function="sleep", action="refresh")
    response = client.post("/jobs/new", data=data, headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert 'name="arg-seconds"' in html
    assert job_count() == 0


def test_preset_fills_the_expression_without_js(client, editor):
    sign_in(client, editor)
    data = form_data(
        client, action="preset", preset="weekly", preset_time="07:15", preset_weekday="3"
    )
    html = client.post("/jobs/new", data=data).get_data(as_text=True)
    assert 'value="15 7 * * 3"' in html
    assert job_count() == 0


def test_edit_changes_the_job(client, editor, make_job):
    sign_in(client, editor)
    job = make_job(editor, name="Old name")
    html = client.get(f"/jobs/{job.id}/edit").get_data(as_text=True)
    assert 'value="Old name"' in html
    data = form_data(client, name="New name", schedule_type="interval", interval_minutes="5")
    response = client.post(f"/jobs/{job.id}/edit", data=data)
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ScheduledJob, job.id).name == "New name"


def test_duplicate_prefills_a_copy(client, editor, make_job):
    sign_in(client, editor)
    job = make_job(editor, name="Original")
    html = client.get(f"/jobs/new?from={job.id}").get_data(as_text=True)
    assert 'value="Copy of Original"' in html
    assert f'action="/jobs/new?from={job.id}"' in html


def test_viewer_gets_403_on_new_edit_and_post(client, viewer, editor, make_job):
    job = make_job(editor)
    sign_in(client, viewer)
    assert client.get("/jobs/new").status_code == 403
    assert client.get(f"/jobs/{job.id}/edit").status_code == 403
    token = csrf_token(client, f"/jobs/{job.id}")
    assert client.post("/jobs/new", data={"csrf_token": token, "name": "x"}).status_code == 403
    response = client.post(f"/jobs/{job.id}/edit", data={"csrf_token": token, "name": "x"})
    assert response.status_code == 403
    assert job_count() == 1


def test_editor_cannot_open_another_users_job(client, editor, outsider, make_job):
    job = make_job(outsider)
    sign_in(client, editor)
    assert client.get(f"/jobs/{job.id}/edit").status_code == 404
    token = csrf_token(client, "/jobs/new")
    response = client.post(f"/jobs/{job.id}/edit", data={"csrf_token": token})
    assert response.status_code == 404


def test_editor_may_not_schedule_or_edit_a_system_task(client, editor, admin, make_job):
    # An admin gave the editor a job running a system task: the editor sees it, may not change it.
    system_job = make_job(
        admin, task_function="cleanup_history", name="cleanup", owner_id=editor.id
    )
    sign_in(client, editor)
    html = client.get("/jobs/new").get_data(as_text=True)
    assert 'value="cleanup_history"' not in html
    response = client.post("/jobs/new", data=form_data(client, task_function="cleanup_history"))
    assert response.status_code == 403
    assert job_count() == 1
    assert client.get(f"/jobs/{system_job.id}/edit").status_code == 403


def test_post_without_csrf_token_is_refused(client, editor):
    sign_in(client, editor)
    data = form_data(client)
    del data["csrf_token"]
    assert client.post("/jobs/new", data=data).status_code == 400
    assert job_count() == 0


def test_field_check_fills_error_slots_out_of_band_and_writes_nothing(client, editor):
    sign_in(client, editor)
    data = form_data(client, cron_expression="99 * * * *", name="")
    response = client.post("/jobs/validate", data=data, headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="err-cron_expression" class="field-error" hx-swap-oob="true"' in html
    assert error_of(html, "cron_expression")
    assert error_of(html, "name") == ""  # blank and untouched: the save will say it
    assert job_count() == 0


def test_field_check_of_a_valid_form_clears_the_slots(client, editor):
    sign_in(client, editor)
    html = client.post("/jobs/validate", data=form_data(client), headers=PARTIAL).get_data(
        as_text=True
    )
    assert error_of(html, "cron_expression") == ""
    assert job_count() == 0


def test_preview_lists_ten_times_in_both_zones_with_the_day_rule(client, editor):
    sign_in(client, editor)
    data = form_data(client, cron_expression="0 9 1,15 * *", timezone="America/New_York")
    html = client.post("/jobs/preview", data=data, headers=PARTIAL).get_data(as_text=True)
    assert html.count("<time datetime=") == 10
    assert "In your zone" in html  # the display zone (UTC) differs from the job's
    assert "Runs on" in html


def test_preview_flags_times_dst_moved_or_repeated(client, editor):
    sign_in(client, editor)
    data = form_data(client, cron_expression="30 2 * * *", timezone="Europe/Berlin",
                     start_date="2027-03-27T00:00")  # fmt: skip
    html = client.post("/jobs/preview", data=data, headers=PARTIAL).get_data(as_text=True)
    assert 'data-dst="shifted"' in html and "clocks go forward" in html
    data = form_data(client, cron_expression="30 2 * * *", timezone="Europe/Berlin",
                     start_date="2027-10-30T00:00")  # fmt: skip
    html = client.post("/jobs/preview", data=data, headers=PARTIAL).get_data(as_text=True)
    assert 'data-dst="repeated"' in html


def test_preview_says_never_fires_and_shows_invalid_input_without_500(client, editor):
    sign_in(client, editor)
    data = form_data(client, cron_expression="0 0 30 2 *")
    html = client.post("/jobs/preview", data=data, headers=PARTIAL).get_data(as_text=True)
    assert "This schedule never fires." in html
    response = client.post("/jobs/preview", data=form_data(client, cron_expression="nonsense"))
    assert response.status_code == 200
    assert "This schedule is not valid yet" in response.get_data(as_text=True)


def test_preview_button_without_js_re_renders_the_page_with_the_preview(client, editor):
    sign_in(client, editor)
    response = client.post("/jobs/new", data=form_data(client, action="preview"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.startswith("<!doctype html>")
    assert html.count("<time datetime=") == 10
    assert job_count() == 0


@pytest.fixture
def secret_headers(app):
    """Mark http_request's headers writeOnly, as the task declares them sensitive."""
    from app.models import TaskFunction

    row = db.session.scalars(select(TaskFunction).where(TaskFunction.name == "http_request")).one()
    schema = json.loads(json.dumps(row.args_schema))
    schema["properties"]["headers"]["writeOnly"] = True
    row.args_schema = schema
    db.session.commit()


def test_sensitive_arguments_are_never_shown_and_kept_on_an_empty_edit(
    client, editor, secret_headers
):
    sign_in(client, editor)
    args = {"arg-url": "https://example.com/", "arg-headers": '{"Authorization": "Bearer s3cret"}'}
    data = form_data(client, task_function="http_request", **args)
    assert client.post("/jobs/new", data=data).status_code == 303
    job = db.session.scalars(select(ScheduledJob)).one()
    page = client.get(f"/jobs/{job.id}/edit").get_data(as_text=True)
    assert "s3cret" not in page
    assert "Set — leave empty to keep." in page
    assert "s3cret" not in client.get(f"/jobs/{job.id}").get_data(as_text=True)
    data = form_data(
        client, name="Renamed", task_function="http_request", **{"arg-url": "https://example.com/"}
    )
    assert client.post(f"/jobs/{job.id}/edit", data=data).status_code == 303
    db.session.expire_all()
    stored = db.session.get(ScheduledJob, job.id)
    assert stored.name == "Renamed"
    assert stored.task_args["headers"] == {"Authorization": "Bearer s3cret"}
    # A new value replaces it.
    data["arg-headers"] = '{"X-Key": "other"}'
    assert client.post(f"/jobs/{job.id}/edit", data=data).status_code == 303
    db.session.expire_all()
    assert db.session.get(ScheduledJob, job.id).task_args["headers"] == {"X-Key": "other"}


def test_field_check_is_for_writers_of_the_job(client, viewer, editor, outsider, make_job):
    job = make_job(outsider)
    sign_in(client, editor)
    data = form_data(client, job_id=str(job.id))
    assert client.post("/jobs/validate", data=data, headers=PARTIAL).status_code == 404


def test_field_check_refuses_viewers(client, viewer, editor, make_job):
    job = make_job(editor)
    sign_in(client, viewer)
    token = csrf_token(client, f"/jobs/{job.id}")
    data = {"csrf_token": token, "name": "x", "job_id": str(job.id)}
    assert client.post("/jobs/validate", data=data, headers=PARTIAL).status_code == 403
