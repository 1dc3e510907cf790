"""Settings → Webhooks and API tokens in Chromium: create a webhook, send a test event to a
local HTTP server and watch its delivery arrive in the log; create a token, copy it and
revoke it; the same without JavaScript and in Arabic; axe on each page; screenshots.

The live server has no worker, so the test sends the queued delivery itself with the same
service calls the retry process and an RQ worker make (dispatch_due, then deliver).
Everything belongs to its own editor, so other modules' counts stay as they are.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import User, WebhookDelivery, utcnow
from app.services.events import deliveries
from app.services.scheduling import jobs
from app.services.users import accounts
from tests.browser.conftest import PASSWORD, check_axe
from tests.browser.pages import (
    assert_no_horizontal_scroll,
    check_axe_as_without_js,
    forget_new_jobs,
    htmx_idle,
    settle,
    sign_in,
)

EMAIL = "hooks@example.com"
FAST = deliveries.DeliverySettings(timeout=2, max_attempts=3, retry_base=1, retry_max=60)


@pytest.fixture(scope="module", autouse=True)
def _forget_jobs(live_app):
    """Other modules count and seed jobs: leave none of this module's behind."""
    yield from forget_new_jobs(live_app)


@pytest.fixture(scope="module")
def hooks_job(live_app) -> uuid.UUID:
    """An editor of its own with one job to hang webhooks on."""
    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == EMAIL))
        if user is None:
            user = accounts.create_user(db.session, EMAIL, PASSWORD, "editor")
        fields = {"name": f"Hooked {uuid.uuid4().hex[:6]}", "task_function": "noop",
                  "schedule_config": {"minutes": 30}}  # fmt: skip
        job = jobs.create_job(db.session, user, fields, utcnow())
        db.session.commit()
        return job.id


def open_as(open_page: Callable[..., Page], live_server, kind: str) -> Page:
    """Signed in as the module's editor; Arabic saved as the preference for ar-dark."""
    page = open_page(kind)
    sign_in(page, live_server.url, EMAIL, PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    if kind == "ar-dark":
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        page.request.post(
            f"{live_server.url}/preferences", form={"csrf_token": token, "lang": "ar"}
        )
    return page


def send_queued(live_app) -> int:
    """What the retry process and a worker do: queue the due deliveries, then send each."""
    with live_app.app_context():
        ids = deliveries.dispatch_due(db.session, utcnow() + timedelta(seconds=1), 50)
        db.session.commit()
        for delivery_id in ids:
            deliveries.deliver(db.session, delivery_id, FAST, utcnow())
        return len(ids)


def create_webhook(page: Page, base: str, job_id: uuid.UUID, url: str) -> None:
    page.goto(f"{base}/settings/webhooks/new?job={job_id}")
    page.locator("#url").fill(url)
    page.locator('input[name="phase"][value="failed"]').check()
    page.locator("#status_code").fill("5xx")
    page.locator("#description").fill("on-call pager")
    page.locator("#webhook-form button[type=submit]").click()


@pytest.mark.parametrize("kind", ["en-light", "ar-dark"])
def test_create_a_webhook_ping_it_and_see_the_delivery(
    open_page, live_server, live_app, hooks_job, httpserver, screenshot, kind
):
    httpserver.expect_request("/almanac", method="POST").respond_with_data("pong", status=200)
    page = open_as(open_page, live_server, kind)
    create_webhook(page, live_server.url, hooks_job, httpserver.url_for("/almanac"))
    secret = page.locator("#webhook-secret-value")
    expect(secret).to_have_value(re.compile(r"^whsec_|.{16,}"))
    expect(page.locator("[data-copy='webhook-secret-value']")).to_be_visible()
    check_axe(page)
    page.locator("form[action$='/ping'] button").click()
    log = page.locator("#deliveries")
    expect(log.locator("[data-status='pending']")).to_be_visible()
    expect(log).to_have_attribute("hx-trigger", "every 2s")
    assert send_queued(live_app) == 1
    expect(log.locator("[data-status='delivered']")).to_be_visible(timeout=6000)
    expect(log.locator("[data-response-status]")).to_have_text("HTTP 200")
    expect(log).not_to_have_attribute("hx-trigger", "every 2s")
    assert httpserver.log and httpserver.log[-1][0].headers.get("webhook-signature")
    check_axe(page)
    settle(page)
    screenshot(page, f"settings-webhooks-{kind}")
    page.goto(f"{live_server.url}/settings/webhooks")
    expect(page.locator("table.webhooks")).to_contain_text(httpserver.url_for("/almanac"))


def test_a_refused_url_is_explained_next_to_the_field(
    open_page, live_server, hooks_job, page_errors
):
    page_errors.expect_status(422)
    page = open_as(open_page, live_server, "en-light")
    create_webhook(page, live_server.url, hooks_job, "http://10.9.8.7/hook")
    expect(page.locator("#err-url")).to_contain_text("10.9.8.7")
    expect(page.locator("#url")).to_have_attribute("aria-invalid", "true")


def make_token(page: Page, name: str) -> str:
    """Fill in the name, create, and read the token shown once."""
    page.locator("#name").fill(name)
    page.locator(".token-form button[type=submit]").click()
    htmx_idle(page)
    value = page.locator("#new-token-value")
    expect(value).to_have_value(re.compile(r"^alm_"))
    return value.input_value()


def test_create_copy_and_revoke_a_token(open_page, live_server, live_app, hooks_job, screenshot):
    page = open_as(open_page, live_server, "en-light")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server.url}/settings/tokens")
    name = f"deploy {uuid.uuid4().hex[:6]}"
    token = make_token(page, name)
    page.locator("[data-copy='new-token-value']").click()
    expect(page.locator("#toasts")).to_contain_text("Copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == token
    check_axe(page)
    page.locator("tr", has_text=name).locator("button", has_text="Revoke").click()
    page.locator("#confirm-dialog button[value=ok]").click()
    htmx_idle(page)
    expect(page.locator("tr", has_text=name).locator("[data-status='revoked']")).to_be_visible()
    with live_app.app_context():
        assert accounts.user_for_token(db.session, token) is None
    make_token(page, "deploy script")
    # Last: a screenshot leaves style="" on inputs, which a later htmx settle would copy.
    settle(page)
    screenshot(page, "settings-tokens-en-light")


def test_tokens_and_webhooks_without_javascript(
    open_page, live_server, live_app, hooks_job, httpserver, screenshot
):
    httpserver.expect_request("/nojs", method="POST").respond_with_data("ok", status=200)
    page = open_as(open_page, live_server, "nojs")
    page.goto(f"{live_server.url}/settings/tokens")
    page.locator("#name").fill("no-js laptop")
    page.locator(".token-form button[type=submit]").click()
    expect(page.locator("#new-token-value")).to_have_value(re.compile(r"^alm_"))
    expect(page.locator("[data-copy='new-token-value']")).to_be_hidden()
    screenshot(page, "settings-tokens-nojs")
    page.goto(f"{live_server.url}/settings/tokens")
    page.locator("tr", has_text="no-js laptop").locator("button", has_text="Revoke").click()
    expect(page.locator("h1")).to_contain_text("Revoke “no-js laptop”")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#toasts")).to_contain_text("Token “no-js laptop” revoked.")
    expect(
        page.locator("tr", has_text="no-js laptop").locator("[data-status='revoked']")
    ).to_be_visible()
    check_axe_as_without_js(open_page, page)

    create_webhook(page, live_server.url, hooks_job, httpserver.url_for("/nojs"))
    expect(page.locator("#webhook-secret-value")).to_be_visible()
    page.locator("form[action$='/ping'] button").click()
    expect(page.locator("#toasts")).to_contain_text("Test event queued")
    assert send_queued(live_app) == 1
    page.reload()
    expect(page.locator("#deliveries [data-status='delivered']").first).to_be_visible()
    check_axe_as_without_js(open_page, page)
    screenshot(page, "settings-webhooks-nojs")
    page.locator("form[action$='/delete'] button").click()
    expect(page.locator("h1")).to_contain_text("Delete the webhook")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#toasts")).to_contain_text("Webhook deleted.")
    with live_app.app_context():
        gone = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.url.like("%/nojs")))
        assert list(gone) == []


@pytest.mark.parametrize("kind", ["en-light", "ar-dark", "phone"])
def test_form_and_list_read_well_everywhere(open_page, live_server, hooks_job, screenshot, kind):
    page = open_as(open_page, live_server, kind)
    page.goto(f"{live_server.url}/settings/webhooks/new?job={hooks_job}")
    expect(page.locator(".phase-matrix tbody tr")).to_have_count(8)
    assert_no_horizontal_scroll(page)
    check_axe(page)
    settle(page)
    screenshot(page, f"settings-webhooks-form-{kind}")
    page.goto(f"{live_server.url}/settings/webhooks")
    assert_no_horizontal_scroll(page)
    check_axe(page)
    page.goto(f"{live_server.url}/settings/tokens")
    assert_no_horizontal_scroll(page)
    check_axe(page)


def test_rotate_and_delete_through_the_confirm_dialog(
    open_page, live_server, hooks_job, httpserver
):
    page = open_as(open_page, live_server, "en-light")
    create_webhook(page, live_server.url, hooks_job, httpserver.url_for("/rotate-me"))
    first = page.locator("#webhook-secret-value").input_value()
    page.locator("form[action$='/rotate'] button").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.locator("#confirm-dialog button[value=ok]").click()
    secret = page.locator("#webhook-secret-value")
    expect(secret).not_to_have_value(first)
    expect(page.locator("#webhook-secret-h")).to_have_text("New signing secret.")
    htmx_idle(page)
    page.locator("form[action$='/delete'] button").click()
    page.locator("#confirm-dialog button[value=ok]").click()
    page.wait_for_url(f"{live_server.url}/settings/webhooks")
    expect(page.locator("#toasts")).to_contain_text("Webhook deleted.")
    expect(page.locator("main")).not_to_contain_text("/rotate-me")
