"""The runs page in Chromium: filters, a running row that updates by itself, Arabic, phone, axe."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import Execution, User, utcnow
from app.services.scheduling import jobs
from app.services.users import accounts
from tests.browser.conftest import PASSWORD, check_axe
from tests.browser.pages import check_axe_as_without_js, settle, sign_in

EMAIL = "runs-page@example.com"


def seed(live_app) -> tuple[str, dict[str, uuid.UUID]]:
    """A job of the runs page's own editor with one run of each kind."""
    tag = uuid.uuid4().hex[:6]
    now = utcnow()
    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == EMAIL))
        if user is None:
            user = accounts.create_user(db.session, EMAIL, PASSWORD, "editor")
            db.session.commit()
        fields = {"name": f"Runs {tag}", "task_function": "noop", "schedule_config": {"hours": 1}}
        job = jobs.create_job(db.session, user, fields, now)
        kinds = {
            "running": {"status": "running", "started_at": now},
            "failed": {"status": "failed", "error_message": "ZeroDivisionError: division by zero",
                       "started_at": now, "completed_at": now, "duration_seconds": 0.2},
            "manual": {"status": "success", "triggered_by": "manual", "started_at": now,
                       "completed_at": now, "duration_seconds": 1.5},
        }  # fmt: skip
        ids = {}
        for minutes, (name, values) in enumerate(kinds.items()):
            slot = now - timedelta(minutes=minutes)
            run = Execution(job_id=job.id, scheduled_for=slot, created_at=slot, **values)
            db.session.add(run)
            db.session.flush()
            ids[name] = run.id
        db.session.commit()
        return tag, ids


def open_runs(open_page, live_server, kind="en-light", query=""):
    page = open_page(kind)
    sign_in(page, live_server.url, EMAIL, PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    if kind == "ar-dark":
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        page.request.post(
            f"{live_server.url}/preferences", form={"csrf_token": token or "", "lang": "ar"}
        )
    page.goto(f"{live_server.url}/runs{query}")
    return page


def test_filters_and_a_running_row_that_updates_by_itself(open_page, live_server, live_app):
    tag, ids = seed(live_app)
    page = open_runs(open_page, live_server, query=f"?job=Runs+{tag}")
    expect(page.locator("#runs-table tbody tr")).to_have_count(3)
    page.locator("#runs-filter-outcome").select_option("failed")
    page.wait_for_url(re.compile("outcome=failed"), wait_until="commit")
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    expect(page.locator("#runs-table")).to_contain_text("ZeroDivisionError")
    page.locator("#runs-filter-outcome").select_option("")
    expect(page.locator("#runs-table tbody tr")).to_have_count(3)
    page.locator("#runs-filter-trigger").select_option("manual")
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    page.locator("#runs-filter-trigger").select_option("")
    expect(page.locator("#runs-table tbody tr")).to_have_count(3)
    running = page.locator(f"#run-row-{ids['running']}")
    expect(running.locator('[data-status="running"]')).to_be_visible()
    with live_app.app_context():
        run = db.session.get(Execution, ids["running"])
        run.status, run.completed_at, run.duration_seconds = "success", utcnow(), 3.0
        db.session.commit()
    expect(running.locator('[data-status="success"]')).to_be_visible(timeout=8000)
    expect(page.locator("#runs-poller")).not_to_have_attribute("hx-trigger", "every 3s")
    running.get_by_role("link", name=re.compile("run details")).click()
    page.wait_for_url(re.compile(f"/runs/{ids['running']}$"))


def test_without_javascript_the_filters_are_a_plain_form(open_page, live_server, live_app):
    tag, _ = seed(live_app)
    page = open_runs(open_page, live_server, "nojs")
    page.locator("#runs-filter-job").fill(f"Runs {tag}")
    page.locator("#runs-filter-outcome").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile("outcome=failed"))
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    check_axe_as_without_js(open_page, page)


@pytest.mark.parametrize("kind", ["en-light", "ar-dark", "phone"])
def test_runs_page_is_accessible_and_screenshots(
    open_page, live_server, live_app, screenshot, kind
):
    tag, _ = seed(live_app)
    page = open_runs(open_page, live_server, kind, query=f"?job=Runs+{tag}")
    expect(page.locator("#runs-table tbody tr")).to_have_count(3)
    settle(page)
    check_axe(page)
    screenshot(page, f"runs-{kind}")
