"""The jobs table's actions in Chromium: run now with a live status, pause and resume, delete,
filters with Back, bulk "all matching"; without JavaScript and in Arabic; axe on each.

These jobs belong to their own editor (not the rig's browser user), so the counts that
test_jobs_ui.py checks stay as they are.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Execution, ScheduledJob, User
from app.services.scheduling import jobs
from app.services.users import accounts
from tests.browser.conftest import PASSWORD, check_axe
from tests.browser.pages import check_axe_as_without_js, settle, sign_in

EMAIL = "table@example.com"
COUNT = 24


@pytest.fixture(scope="module")
def table_jobs(live_app) -> dict[str, uuid.UUID]:
    """24 jobs of their own editor: "Tbl 00".."Tbl 23", cron and interval."""
    now = datetime.now(UTC)
    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == EMAIL))
        if user is None:
            user = accounts.create_user(db.session, EMAIL, PASSWORD, "editor")
            db.session.commit()
        ids = {}
        for number in range(COUNT):
            fields = {"name": f"Tbl {number:02d}", "task_function": "noop"}
            if number % 2:
                fields |= {"schedule_config": {"minutes": 5 + number}}
            else:
                fields |= {
                    "job_type": "cron",
                    "schedule_config": {"expression": f"{number} 3 * * *"},
                }
            ids[fields["name"]] = jobs.create_job(db.session, user, fields, now).id
        db.session.commit()
        return ids


def open_table(open_page: Callable[..., Page], live_server, kind: str = "en-light") -> Page:
    """Signed in as the table's editor on the jobs page (Arabic saved for ar-dark)."""
    page = open_page(kind)
    sign_in(page, live_server.url, EMAIL, PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    if kind == "ar-dark":
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        page.request.post(
            f"{live_server.url}/preferences", form={"csrf_token": token or "", "lang": "ar"}
        )
        page.reload()
    return page


def row(page: Page, job_id: uuid.UUID):
    return page.locator(f"#job-row-{job_id}")


def update_run(live_app, job_id: uuid.UUID, **fields) -> None:
    """Play the worker's part: move the job's newest run on (the live server has no worker)."""
    with live_app.app_context():
        run = db.session.scalars(
            select(Execution)
            .where(Execution.job_id == job_id)
            .order_by(Execution.created_at.desc())
        ).first()
        for key, value in fields.items():
            setattr(run, key, value)
        db.session.commit()


def test_run_now_shows_queued_running_then_the_outcome_without_a_reload(
    open_page, live_server, live_app, table_jobs, screenshot
):
    page = open_table(open_page, live_server)
    page.evaluate("window.__sameDocument = true")
    job_id = table_jobs["Tbl 01"]
    row(page, job_id).get_by_role("button", name=re.compile("^Run now")).click()
    status = row(page, job_id).locator(".run-status")
    expect(status).to_have_attribute("data-run-status", "queued")
    expect(status).to_have_attribute("hx-trigger", "every 1s")
    update_run(live_app, job_id, status="running", started_at=datetime.now(UTC))
    expect(status).to_have_attribute("data-run-status", "running")
    update_run(
        live_app, job_id, status="success", completed_at=datetime.now(UTC), duration_seconds=2.5
    )
    expect(status).to_have_attribute("data-run-status", "success")
    expect(status).to_contain_text("Succeeded")
    expect(status).to_contain_text("2.5 s")
    expect(status).not_to_have_attribute("hx-trigger", re.compile("."))
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "jobs-run-now-en-light", full_page=False)


def pause_via_dialog(page: Page, job_id: uuid.UUID, more: str, pause: str, submit: str) -> None:
    row(page, job_id).locator("summary").click()
    row(page, job_id).get_by_role("link", name=pause).click()
    dialog = page.locator(f"#pause-{job_id}")
    expect(dialog).to_be_visible()
    dialog.locator("input[name=reason]").fill("maintenance")
    dialog.get_by_role("button", name=submit, exact=True).click()


@pytest.mark.parametrize("kind", ["en-light", "ar-dark"])
def test_pause_with_reason_and_resume_in_place(
    open_page, live_server, table_jobs, screenshot, kind
):
    page = open_table(open_page, live_server, kind)
    page.evaluate("window.__sameDocument = true")
    job_id = table_jobs["Tbl 02" if kind == "en-light" else "Tbl 04"]
    arabic = kind == "ar-dark"
    row(page, job_id).locator("summary").click()
    check_axe(page)
    row(page, job_id).get_by_role("link", name="إيقاف مؤقت…" if arabic else "Pause…").click()
    dialog = page.locator(f"#pause-{job_id}")
    expect(dialog).to_be_visible()
    check_axe(page)
    screenshot(page, f"jobs-pause-dialog-{kind}", full_page=False)
    dialog.locator("input[name=reason]").fill("maintenance")
    dialog.get_by_role("button", name="إيقاف مؤقت" if arabic else "Pause", exact=True).click()
    expect(row(page, job_id).locator('[data-status="paused"]')).to_be_visible()
    expect(page.locator("#toasts")).to_contain_text("أُوقفت" if arabic else "Job paused.")
    row(page, job_id).locator("summary").click()
    row(page, job_id).get_by_role("button", name="استئناف" if arabic else "Resume").click()
    expect(row(page, job_id).locator('[data-status="active"]')).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True  # swapped in place, no reload


def test_delete_asks_in_a_dialog_then_removes_the_row(open_page, live_server, table_jobs):
    page = open_table(open_page, live_server)
    job_id = table_jobs["Tbl 05"]
    row(page, job_id).locator("summary").click()
    row(page, job_id).get_by_role("button", name="Delete").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Delete the job “Tbl 05”")
    dialog.get_by_role("button", name="Confirm").click()
    expect(row(page, job_id)).to_have_count(0)
    expect(page.locator("#toasts")).to_contain_text("deleted")


def test_filter_sort_page_then_back_restores_each_view(open_page, live_server, table_jobs):
    page = open_table(open_page, live_server)
    page.locator("#f-task").select_option("noop")
    page.wait_for_url(re.compile(r"task=noop"), wait_until="commit")
    page.locator("#jobs-q").press_sequentially("Tbl", delay=20)
    page.wait_for_url(re.compile(r"q=Tbl"), wait_until="commit")
    page.get_by_role("link", name=re.compile("^Time zone")).click()
    page.wait_for_url(re.compile(r"sort=tz"), wait_until="commit")
    page.locator("a[rel=next]").click()
    page.wait_for_url(re.compile(r"page=2"), wait_until="commit")
    expect(page.locator("#jobs-table tbody tr").first).to_be_visible()
    page.go_back()
    page.wait_for_url(re.compile(r"sort=tz$"), wait_until="commit")
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Time zone")
    page.go_back()
    page.wait_for_url(re.compile(r"\?q=Tbl&task=noop$"), wait_until="commit")
    expect(page.locator("#jobs-q")).to_have_value("Tbl")
    expect(page.locator("#f-task")).to_have_value("noop")


def test_bulk_pause_all_matching_the_search(open_page, live_server, table_jobs):
    page = open_table(open_page, live_server)
    page.locator("#jobs-q").fill("Tbl 1")
    page.wait_for_url(re.compile(r"q=Tbl(\+|%20)1"), wait_until="commit")
    expect(page.locator(".bulk")).to_contain_text("All 10 jobs matching this view")
    page.locator("#bulk-all").check()
    page.locator("#bulk-action").select_option("pause")
    page.get_by_role("button", name="Apply…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pause: 10 jobs?")
    check_axe(page)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"q=Tbl(\+|%20)1$"))
    expect(page.locator("#toasts")).to_contain_text("10 jobs paused")
    expect(page.locator('#jobs-table [data-status="paused"]')).to_have_count(10)


def test_core_flows_without_javascript(open_page, live_server, table_jobs, screenshot):
    page = open_table(open_page, live_server, "nojs")
    job_id = table_jobs["Tbl 06"]
    # Run now: straight to the new run's page, then back to the table.
    row(page, job_id).get_by_role("button", name=re.compile("^Run now")).click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]+$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.go_back()
    # Pause on its own page, with a reason.
    row(page, job_id).locator("summary").click()
    row(page, job_id).get_by_role("link", name="Pause…").click()
    page.wait_for_url(re.compile(f"/jobs/{job_id}/pause"))
    screenshot(page, "jobs-pause-page-nojs", full_page=False)
    check_axe_as_without_js(open_page, page)
    page.locator("input[name=reason]").fill("no js")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator("#toasts")).to_contain_text("Job paused.")
    expect(row(page, job_id).locator('[data-status="paused"]')).to_be_visible()
    # Delete through the confirm page.
    row(page, job_id).locator("summary").click()
    row(page, job_id).get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete “Tbl 06”")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("#toasts")).to_contain_text("deleted")
    expect(row(page, job_id)).to_have_count(0)
    # Filters are a plain GET form.
    page.locator("#f-state").select_option("paused")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"state=paused"))


@pytest.mark.parametrize("kind", ["en-light", "ar-dark", "phone"])
def test_table_is_accessible_and_screenshots(open_page, live_server, table_jobs, screenshot, kind):
    page = open_table(open_page, live_server, kind)
    expect(page.locator("#jobs-table tbody tr")).to_have_count(20)
    settle(page)
    check_axe(page)
    screenshot(page, f"jobs-table-{kind}")


def test_changed_rows_refresh_by_themselves(open_page, live_server, live_app, table_jobs):
    page = open_table(open_page, live_server)
    job_id = table_jobs["Tbl 08"]
    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == EMAIL))
        job = db.session.get(ScheduledJob, job_id)
        jobs.apply_action(db.session, user, job, "disable", datetime.now(UTC))
    expect(row(page, job_id).locator('[data-status="disabled"]')).to_be_visible(timeout=12_000)
