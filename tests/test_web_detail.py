"""The job page and the run page: sections, paging, permissions, live polling that stops."""

from __future__ import annotations

import re
from datetime import timedelta

from app.extensions import db
from app.models import AuditEvent, RetryItem, Webhook, WebhookDelivery, utcnow
from tests.conftest import PASSWORD
from tests.test_auth import post_login

PARTIAL = {"HX-Request": "true"}


def sign_in(client, persona):
    post_login(client, persona.user.email, PASSWORD)


def test_job_page_shows_settings_upcoming_runs_chart_and_audit(
    client, editor, make_job, make_execution
):
    job = make_job(
        editor, name="Report", job_type="cron", schedule_config={"expression": "0 9 * * 1"}
    )
    now = utcnow()
    for i in range(3):
        make_execution(
            job, status="success", duration_seconds=1.5 + i, created_at=now - timedelta(minutes=i)
        )
    make_execution(job, status="failed", duration_seconds=4, created_at=now - timedelta(minutes=9))
    make_execution(
        job,
        status="skipped",
        reason="an earlier run was still going",
        created_at=now - timedelta(minutes=10),
    )
    sign_in(client, editor)
    response = client.get(f"/jobs/{job.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.startswith("<!doctype html>")
    assert html.count("<time datetime=") >= 20  # the next 20 fire times
    assert "on Mondays" in html or "Monday" in html
    assert html.count('class="bar bar-') == 4
    assert "Success rate: 75" in html
    assert "an earlier run was still going" in html
    assert "<strong>Created</strong>" in html  # the audit trail
    assert f'href="/jobs/{job.id}/edit"' in html


def test_recent_runs_page_with_a_keyset_cursor(client, editor, make_job, make_execution):
    job = make_job(editor)
    now = utcnow()
    for i in range(25):
        make_execution(job, created_at=now - timedelta(minutes=i))
    sign_in(client, editor)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    match = re.search(r'hx-get="(/jobs/[^"]+\?cursor=[^"]+)"', html)
    assert match
    older = client.get(match.group(1).replace("&amp;", "&"), headers=PARTIAL)
    part = older.get_data(as_text=True)
    assert part.lstrip().startswith('<div id="recent-runs"')
    assert part.count('href="/runs/') == 5
    assert client.get(f"/jobs/{job.id}?cursor=garbage").status_code == 422


def test_viewer_sees_the_job_without_edit_controls(client, viewer, editor, make_job):
    job = make_job(editor)
    sign_in(client, viewer)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f"/jobs/{job.id}/edit" not in html
    assert "Duplicate" not in html


def test_editor_gets_404_for_another_users_job_and_run(
    client, editor, outsider, make_job, make_execution
):
    job = make_job(outsider)
    run = make_execution(job)
    sign_in(client, editor)
    assert client.get(f"/jobs/{job.id}").status_code == 404
    assert client.get(f"/runs/{run.id}").status_code == 404


def test_audit_hides_sensitive_task_arguments(client, editor, make_job):
    from sqlalchemy import select

    from app.models import TaskFunction

    row = db.session.scalars(select(TaskFunction).where(TaskFunction.name == "http_request")).one()
    schema = dict(row.args_schema)
    schema["properties"] = dict(schema["properties"])
    schema["properties"]["headers"] = dict(schema["properties"]["headers"], writeOnly=True)
    row.args_schema = schema
    db.session.commit()
    job = make_job(
        editor,
        task_function="http_request",
        task_args={"url": "https://example.com/", "headers": {"X-Key": "hush"}},
    )
    sign_in(client, editor)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "hush" not in html
    assert db.session.scalars(select(AuditEvent)).first() is not None


def test_job_page_lists_retries_and_webhooks_that_apply(client, admin, make_job, make_execution):
    job = make_job(admin)
    other = make_job(admin, name="Other")
    failed = make_execution(job, status="failed")
    db.session.add(
        RetryItem(
            execution_id=failed.id,
            job_id=job.id,
            attempt=2,
            next_try_at=utcnow() + timedelta(minutes=5),
            last_error="boom",
        )
    )
    for job_id, url in (
        (job.id, "https://a.example/own"),
        (None, "https://a.example/all"),
        (other.id, "https://a.example/other"),
    ):
        db.session.add(Webhook(job_id=job_id, phase="failed", url=url, secret="s"))
    db.session.commit()
    sign_in(client, admin)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Attempt 2" in html and "boom" in html
    assert "https://a.example/own" in html and "https://a.example/all" in html
    assert "https://a.example/other" not in html


def test_run_page_shows_times_log_escaped_attempts_and_deliveries(
    client, editor, make_job, make_execution
):
    job = make_job(editor)
    first = make_execution(job, status="failed", attempt=1, error_traceback="Traceback <boom>")
    second = make_execution(
        job,
        status="success",
        attempt=2,
        retry_of=first.id,
        log_output="line <b>1</b>\nline 2",
        worker_name="w1",
    )
    hook = Webhook(job_id=job.id, phase="succeeded", url="https://hooks.example/x", secret="s")
    db.session.add(hook)
    db.session.flush()
    db.session.add(
        WebhookDelivery(
            webhook_id=hook.id,
            execution_id=second.id,
            event_id="e1",
            phase="succeeded",
            payload={},
            status="delivered",
            url="https://hooks.example/x",
            attempts=1,
        )
    )
    db.session.commit()
    sign_in(client, editor)
    html = client.get(f"/runs/{second.id}").get_data(as_text=True)
    assert "line &lt;b&gt;1&lt;/b&gt;" in html
    assert '<pre dir="ltr" class="log"' in html
    assert f'href="/runs/{first.id}"' in html
    assert "https://hooks.example/x" in html
    assert 'hx-trigger="every 2s"' not in html  # finished: no polling
    first_html = client.get(f"/runs/{first.id}").get_data(as_text=True)
    assert "Traceback &lt;boom&gt;" in first_html
    assert f'href="/runs/{second.id}"' in first_html


def test_running_run_polls_until_it_ends(client, editor, make_job, make_execution):
    job = make_job(editor)
    run = make_execution(job, status="running", log_output="starting")
    sign_in(client, editor)
    html = client.get(f"/runs/{run.id}").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in html
    poll = client.get(f"/runs/{run.id}", headers=PARTIAL)
    assert poll.headers["Cache-Control"] == "no-store"
    assert poll.get_data(as_text=True).lstrip().startswith('<div id="run-live"')
    run.status, run.log_output = "success", "starting\ndone"
    db.session.commit()
    poll = client.get(f"/runs/{run.id}", headers=PARTIAL).get_data(as_text=True)
    assert "done" in poll and 'hx-trigger="every 2s"' not in poll


def test_anonymous_is_sent_to_login(client, editor, make_job):
    job = make_job(editor)
    assert client.get(f"/jobs/{job.id}").status_code == 302
    assert client.get("/jobs/new").status_code == 302


def test_job_summary_for_the_sheet(client, editor, viewer, outsider, make_job):
    job = make_job(
        editor, name="Report", job_type="cron", schedule_config={"expression": "0 9 * * 1"}
    )
    sign_in(client, editor)
    part = client.get(f"/jobs/{job.id}?sheet=1", headers=PARTIAL)
    html = part.get_data(as_text=True)
    assert part.status_code == 200 and html.lstrip().startswith('<div class="sheet-panel">')
    assert "HX-Request" in part.headers["Vary"]
    assert '<h2 id="job-sheet-title">' in html and "data-dialog-close" in html
    assert f'href="/jobs/{job.id}"' in html and f'href="/jobs/{job.id}/edit"' in html
    assert html.split("<tbody>")[1].count("<tr>") == 5  # the next five fire times (page: 20)
    assert "Success rate" not in html  # no chart, runs or history: those are on the page
    # Without htmx the same address is the whole page; others' jobs stay hidden.
    assert client.get(f"/jobs/{job.id}?sheet=1").get_data(as_text=True).startswith("<!doctype")
    theirs = make_job(outsider)
    assert client.get(f"/jobs/{theirs.id}?sheet=1", headers=PARTIAL).status_code == 404
    reader = client.application.test_client()
    sign_in(reader, viewer)
    html = reader.get(f"/jobs/{job.id}?sheet=1", headers=PARTIAL).get_data(as_text=True)
    assert "job-sheet-title" in html and f"/jobs/{job.id}/edit" not in html


def test_run_summary_for_the_sheet_polls_while_running(client, editor, make_job, make_execution):
    job = make_job(editor, name="Report")
    done = make_execution(job, status="failed", error_message="boom")
    running = make_execution(job, status="running", started_at=utcnow())
    sign_in(client, editor)
    part = client.get(f"/runs/{done.id}?sheet=1", headers=PARTIAL)
    html = part.get_data(as_text=True)
    assert part.status_code == 200 and html.lstrip().startswith('<div class="sheet-panel">')
    assert "HX-Request" in part.headers["Vary"]
    assert '<h2 id="job-sheet-title">Run of <bdi>Report</bdi></h2>' in html
    assert f'href="/runs/{done.id}"' in html and f'href="/jobs/{job.id}"' in html
    assert "boom" in html and 'hx-trigger="every 2s"' not in html
    live = client.get(f"/runs/{running.id}?sheet=1", headers=PARTIAL).get_data(as_text=True)
    # The live region inside polls the run's own address (its region, not another sheet).
    assert f'hx-get="/runs/{running.id}" hx-trigger="every 2s"' in live
    # A poll (no sheet=1) still answers only the live region.
    poll = client.get(f"/runs/{running.id}", headers=PARTIAL).get_data(as_text=True)
    assert poll.lstrip().startswith('<div id="run-live"')


def test_a_paused_job_says_nothing_is_scheduled_on_its_page_and_in_the_sheet(
    client, editor, make_job
):
    job = make_job(editor, name="Held", is_paused=True)
    sign_in(client, editor)
    for url, headers in ((f"/jobs/{job.id}", {}), (f"/jobs/{job.id}?sheet=1", PARTIAL)):
        html = client.get(url, headers=headers).get_data(as_text=True)
        assert "Nothing is scheduled: the job is paused" in html, url
