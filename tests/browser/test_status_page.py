"""The status page, the jobs page's status panel and the audit log in Chromium.

A real worker process (worker.py, as in production) is started and stopped
against the live server's database and Redis: the status page, polling by
itself, shows the "no worker" warning while it is stopped and clears it once
it runs again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import User, utcnow
from app.services.events import webhooks
from app.services.scheduling import jobs
from app.services.users import accounts
from tests.browser.conftest import check_axe
from tests.browser.pages import (
    assert_no_horizontal_scroll,
    check_axe_as_without_js,
    forget_new_jobs,
    htmx_idle,
    settle,
    sign_in,
    signed_in_page,
)
from tests.conftest import PASSWORD, TEST_REDIS_URL
from tests.engine import Engine

ADMIN_EMAIL = f"status-admin-{uuid.uuid4().hex[:6]}@example.com"
NO_WORKERS = '[data-trouble="no_workers"]'


@pytest.fixture(scope="module", autouse=True)
def _forget_jobs(live_app):
    """Other modules seed the browser user's jobs when there are none: leave none behind."""
    yield from forget_new_jobs(live_app)


@pytest.fixture(scope="module")
def admin_user(live_app) -> str:
    """An admin of this module's own (the shared browser user is an editor)."""
    with live_app.app_context():
        accounts.create_user(db.session, ADMIN_EMAIL, PASSWORD, "admin")
        db.session.commit()
    return ADMIN_EMAIL


@pytest.fixture
def engine(live_app, tmp_path: Path) -> Iterator[Engine]:
    """Starts real Almanac processes on the live server's database and Redis."""
    runner = Engine(live_app.config["SQLALCHEMY_DATABASE_URI"], TEST_REDIS_URL, tmp_path)
    yield runner
    runner.stop_all()


def status_page(open_page, live_server, kind: str) -> Page:
    page = signed_in_page(open_page, live_server, kind)
    page.goto(f"{live_server.url}/status")
    return page


def test_a_stopped_worker_is_a_warning_that_clears_when_it_runs_again(
    open_page, live_server, engine, screenshot
):
    page = status_page(open_page, live_server, "en-light")
    expect(page.locator(NO_WORKERS)).to_contain_text("No worker is running.")
    expect(page.locator(NO_WORKERS)).to_contain_text("Procfile: worker")
    check_axe(page)
    screenshot(page, "status-trouble-en-light")

    worker = engine.worker(WORKER_CONCURRENCY="1")
    # The region polls every 10 s: no reload, the warning goes by itself.
    expect(page.locator(NO_WORKERS)).to_have_count(0, timeout=25_000)
    expect(page.locator("#workers tbody tr")).to_have_count(1)
    expect(page.locator("#workers")).to_contain_text("default")  # RQ's queues of the worker
    settle(page)
    screenshot(page, "status-en-light")

    engine.stop(worker)
    expect(page.locator(NO_WORKERS)).to_be_visible(timeout=25_000)
    expect(page.locator("#workers")).to_have_count(0)


def test_status_page_in_arabic_dark(open_page, live_server, screenshot):
    page = status_page(open_page, live_server, "ar-dark")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("الحالة")
    expect(page.locator(NO_WORKERS)).to_contain_text("لا يوجد عامل قيد التشغيل.")
    check_axe(page)
    screenshot(page, "status-ar-dark")


def test_status_page_on_a_phone(open_page, live_server, screenshot):
    phone = status_page(open_page, live_server, "phone")
    expect(phone.locator("#troubles")).to_be_visible()
    assert_no_horizontal_scroll(phone)
    screenshot(phone, "status-phone")


def test_status_page_without_javascript(open_page, live_server, screenshot):
    page = status_page(open_page, live_server, "nojs")
    expect(page.locator(NO_WORKERS)).to_be_visible()
    expect(page.locator("#instances-h")).to_have_text("Processes")
    screenshot(page, "status-nojs")
    check_axe_as_without_js(open_page, page)


def test_jobs_page_panel_loads_links_and_collapses_on_a_phone(open_page, live_server, screenshot):
    page = signed_in_page(open_page, live_server, "en-light")
    panel = page.locator(".status-panel")
    expect(panel.locator('[data-figure="workers"]')).to_have_text("0")
    expect(panel).to_contain_text("warnings")
    check_axe(page)
    panel.locator('[data-figure="queued"]').click()
    page.wait_for_url(f"{live_server.url}/status#queues-h")
    phone = signed_in_page(open_page, live_server, "phone")
    expect(phone.locator('.status-panel [data-figure="workers"]')).to_be_visible()
    assert_no_horizontal_scroll(phone)
    box = phone.locator(".status-panel").bounding_box()
    assert box is not None and box["height"] < 200  # a short strip, not a column
    screenshot(phone, "status-panel-phone", full_page=False)
    nojs = signed_in_page(open_page, live_server, "nojs")
    expect(nojs.locator(".status-panel a[href='/status']")).to_be_visible()


@pytest.fixture
def audited_jobs(live_app, admin_user):
    """Two jobs of the admin's, one of them paused: three events on the trail."""
    tag = uuid.uuid4().hex[:6]
    with live_app.app_context():
        admin = db.session.scalar(select(User).where(User.email == admin_user))
        made = []
        for name in (f"Audit A {tag}", f"Audit B {tag}"):
            values = {"name": name, "task_function": "noop", "schedule_config": {"minutes": 5}}
            made.append(jobs.create_job(db.session, admin, values, utcnow()))
        db.session.commit()
        jobs.apply_action(db.session, admin, made[0].id, "pause", utcnow())
        return [str(job.id) for job in made], tag


def admin_page(open_page, live_server, admin_user, kind: str) -> Page:
    page = open_page(kind)
    sign_in(page, live_server.url, admin_user, PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    return page


def test_audit_log_filters_by_action_and_job(
    open_page, live_server, admin_user, audited_jobs, screenshot
):
    (paused_id, other_id), tag = audited_jobs
    page = admin_page(open_page, live_server, admin_user, "en-light")
    page.goto(f"{live_server.url}/audit")
    expect(page.locator(".audit-log")).to_contain_text(f"Audit B {tag}")
    check_axe(page)
    screenshot(page, "audit-en-light")
    page.select_option("#a-action", "pause")
    htmx_idle(page)
    expect(page).to_have_url(f"{live_server.url}/audit?action=pause")
    # Other tests pause jobs on the same server too: of this test's jobs only A was paused.
    expect(page.locator(".audit-log > li", has_text=tag)).to_have_count(1)
    expect(page.locator(".audit-log")).to_contain_text(f"Audit A {tag}")
    for item in page.locator(".audit-log > li").all():
        expect(item).to_have_attribute("data-action", "pause")
    page.select_option("#a-action", "")
    htmx_idle(page)  # else the next change replaces this request: htmx logs the abort
    page.locator("#a-object").fill(other_id)
    page.locator("#a-object").dispatch_event("change")
    htmx_idle(page)
    expect(page.locator(".audit-log > li")).to_have_count(1)
    expect(page.locator(".audit-log > li")).to_have_attribute("data-action", "created")
    page.goto(f"{live_server.url}/jobs/{paused_id}")
    page.get_by_role("link", name="See all changes in the audit log").click()
    expect(page.locator(".audit-log > li")).to_have_count(2)  # created, then paused


def test_audit_log_without_javascript_and_in_arabic(
    open_page, live_server, admin_user, audited_jobs, screenshot
):
    (paused_id, _), tag = audited_jobs
    page = admin_page(open_page, live_server, admin_user, "nojs")
    page.goto(f"{live_server.url}/audit")
    page.select_option("#a-action", "pause")
    page.locator("#audit-filters button[type=submit]").click()
    expect(page.locator(".audit-log > li")).not_to_have_count(0)
    for item in page.locator(".audit-log > li").all():
        expect(item).to_have_attribute("data-action", "pause")
    screenshot(page, "audit-nojs")
    check_axe_as_without_js(open_page, page)

    arabic = admin_page(open_page, live_server, admin_user, "ar-dark")
    token = arabic.locator('meta[name="csrf-token"]').get_attribute("content")
    arabic.request.post(
        f"{live_server.url}/preferences", form={"csrf_token": token or "", "lang": "ar"}
    )
    arabic.goto(f"{live_server.url}/audit?object={paused_id}")
    expect(arabic.locator("h1")).to_have_text("سجل التدقيق")
    expect(arabic.locator(".audit-log")).to_contain_text(f"Audit A {tag}")
    check_axe(arabic)
    screenshot(arabic, "audit-ar-dark")


def test_audit_log_names_a_webhook_and_filters_by_object_type(
    open_page, live_server, live_app, admin_user
):
    url = f"https://hooks.example.com/audit-{uuid.uuid4().hex[:6]}"
    with live_app.app_context():
        admin = db.session.scalar(select(User).where(User.email == admin_user))
        hook = webhooks.create_webhook(db.session, admin, {"url": url, "phase": "failed"}, utcnow())
        webhooks.rotate_secret(db.session, admin, hook, utcnow())
        hook_id, secret = str(hook.id), hook.secret
    page = admin_page(open_page, live_server, admin_user, "en-light")
    page.goto(f"{live_server.url}/audit")
    page.select_option("#a-type", "webhook")
    htmx_idle(page)
    expect(page).to_have_url(f"{live_server.url}/audit?type=webhook")
    for item in page.locator(".audit-log > li").all():
        expect(item).to_have_attribute("data-object", "webhook")
    page.locator("#a-object").fill(hook_id)
    page.locator("#a-object").dispatch_event("change")
    htmx_idle(page)
    items = page.locator(".audit-log > li")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Secret rotated")
    expect(page.locator(".audit-log")).not_to_contain_text(secret)
    check_axe(page)
    items.first.get_by_role("link", name=url).click()
    expect(page).to_have_url(f"{live_server.url}/settings/webhooks/{hook_id}")


def test_editors_get_the_403_page_for_the_audit_log(open_page, live_server, page_errors):
    page = signed_in_page(open_page, live_server, "en-light")
    page_errors.expect_status(403)
    response = page.goto(f"{live_server.url}/audit")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("Only admins may read the audit log.")
