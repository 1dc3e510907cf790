"""The job editor in Chromium: live preview, create, edit, without JS, in Arabic; axe on each."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import check_axe
from tests.browser.pages import (
    assert_no_horizontal_scroll,
    check_axe_as_without_js,
    forget_new_jobs,
    settle,
    signed_in_page,
)

JOB_PAGE = re.compile(r"/jobs/[0-9a-f-]{36}$")


@pytest.fixture(scope="module", autouse=True)
def _forget_jobs(live_app):
    """Other modules seed the browser user's jobs when there are none: leave none behind."""
    yield from forget_new_jobs(live_app)


def open_new_job(page: Page, url: str) -> None:
    page.goto(f"{url}/jobs/new")
    expect(page.locator("#job-form")).to_be_visible()


def test_preview_follows_the_expression_then_create_and_edit(open_page, live_server, screenshot):
    page = signed_in_page(open_page, live_server, "en-light")
    open_new_job(page, live_server.url)
    page.locator("#name").fill("Browser cron job")
    expression = page.locator("#cron_expression")
    expression.fill("0 9 * * *")
    preview = page.locator("#job-preview")
    expect(preview.locator("tbody tr")).to_have_count(10)
    first = preview.locator("tbody tr").first.inner_text()
    expression.fill("0 9 1 * *")
    expect(preview).to_contain_text("Runs on")
    expect(preview.locator("tbody tr").first).not_to_have_text(first)
    # The interval fields are hidden while cron is chosen (JS shows one kind at a time).
    expect(page.locator(".sched-interval")).to_be_hidden()
    settle(page)
    check_axe(page)
    screenshot(page, "job-new-en-light")
    page.locator('button[name="action"][value="save"]').click()
    page.wait_for_url(JOB_PAGE)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Browser cron job")
    expect(page.locator("#upcoming-h")).to_be_visible()
    settle(page)
    check_axe(page)
    screenshot(page, "job-detail-en-light")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.locator("#name").fill("Browser cron job, edited")
    page.locator('button[name="action"][value="save"]').click()
    page.wait_for_url(JOB_PAGE)
    expect(page.get_by_role("heading", level=1)).to_contain_text("edited")


def test_field_errors_appear_as_the_user_leaves_a_field(open_page, live_server):
    page = signed_in_page(open_page, live_server, "en-light")
    open_new_job(page, live_server.url)
    page.locator("#retry_count").fill("1000")
    page.locator("#retry_count").blur()
    expect(page.locator("#err-retry_count")).to_contain_text("between 0 and 100")


@pytest.mark.parametrize("kind", ["ar-dark", "phone"])
def test_new_job_page_in_arabic_dark_and_on_a_phone(open_page, live_server, screenshot, kind):
    page = signed_in_page(open_page, live_server, kind)
    open_new_job(page, live_server.url)
    page.locator("#cron_expression").fill("30 2 * * *")
    expect(page.locator("#job-preview tbody tr")).to_have_count(10)
    settle(page)
    check_axe(page)
    screenshot(page, f"job-new-{kind}")
    if kind == "ar-dark":
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("#job-form-title")).to_have_text("مهمة جديدة")
    else:
        assert_no_horizontal_scroll(page)


def test_create_without_javascript(open_page, live_server, screenshot):
    page = signed_in_page(open_page, live_server, "nojs")
    open_new_job(page, live_server.url)
    page.locator("#name").fill("No-JS job")
    page.locator("#cron_expression").fill("15 6 * * 1-5")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.locator("#job-preview tbody tr")).to_have_count(10)
    expect(page.locator("#cron_expression")).to_have_value("15 6 * * 1-5")
    screenshot(page, "job-new-nojs")
    check_axe_as_without_js(open_page, page)
    page.locator('button[name="action"][value="save"]').click()
    page.wait_for_url(JOB_PAGE)
    expect(page.locator(".flash")).to_contain_text("Job created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("No-JS job")


@pytest.fixture
def job_with_history(live_app):
    """A cron job in a zone with DST and a few finished, failed and skipped runs."""
    from datetime import timedelta

    from sqlalchemy import select

    from app.extensions import db
    from app.models import Execution, User, utcnow
    from app.services.scheduling import jobs
    from tests.browser.conftest import USER_EMAIL

    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == USER_EMAIL))
        fields = {
            # Names are unique per owner: each parametrised run makes its own job.
            "name": f"History job {uuid.uuid4().hex[:6]}",
            "task_function": "noop",
            "job_type": "cron",
            "schedule_config": {"expression": "30 2 * * *"},
            "timezone": "Europe/Berlin",
        }
        job = jobs.create_job(db.session, user, fields, utcnow())
        now = utcnow()
        for number, status in enumerate(["success", "failed", "success", "timeout", "skipped"]):
            moment = now - timedelta(days=number + 1)
            db.session.add(Execution(job_id=job.id, status=status, scheduled_for=moment,
                                     started_at=moment + timedelta(seconds=2), created_at=moment,
                                     duration_seconds=1.5 * (number + 1),
                                     reason="an earlier run was still going"
                                     if status == "skipped" else None))  # fmt: skip
        db.session.commit()
        return job.id


@pytest.mark.parametrize("kind", ["ar-dark", "phone"])
def test_job_page_in_arabic_dark_and_on_a_phone(
    open_page, live_server, job_with_history, screenshot, kind
):
    page = signed_in_page(open_page, live_server, kind)
    page.goto(f"{live_server.url}/jobs/{job_with_history}")
    expect(page.locator("svg.run-chart rect")).to_have_count(4)
    expect(page.locator("#recent-runs tbody tr")).to_have_count(5)
    settle(page)
    check_axe(page)
    screenshot(page, f"job-detail-{kind}")
    if kind == "phone":
        assert_no_horizontal_scroll(page)
