"""The settings pages in Chromium: profile choices that follow the user, an admin disabling a
user (whose open session ends), defaults that prefill the job form; without JS; in Arabic."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete

from app.extensions import db
from app.models import JobDefaults
from app.services.users import accounts
from tests.browser.conftest import CONTEXTS, PASSWORD, check_axe
from tests.browser.pages import (
    assert_no_horizontal_scroll,
    check_axe_as_without_js,
    htmx_idle,
    settle,
    sign_in,
)

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _built_in_defaults(live_app):
    """The defaults for new jobs are the server's, shared by every test: put them back."""
    yield
    with live_app.app_context():
        db.session.execute(delete(JobDefaults))
        db.session.commit()


def new_user(live_app, role: str) -> str:
    """A user of ``role`` with a unique e-mail (the live server is shared); returns the e-mail."""
    email = f"settings-{role}-{next(_numbers)}-{uuid.uuid4().hex[:6]}@example.com"
    with live_app.app_context():
        accounts.create_user(db.session, email, PASSWORD, role)
    return email


def signed_in_as(open_page, live_server, email: str, kind: str = "en-light") -> Page:
    """A page of ``kind`` signed in as ``email`` (Arabic saved as the user's language)."""
    page = open_page(kind)
    sign_in(page, live_server.url, email, PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    if lang := CONTEXTS[kind].get("lang"):
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        page.request.post(
            f"{live_server.url}/preferences", form={"csrf_token": token or "", "lang": lang}
        )
    return page


def test_profile_choices_apply_after_signing_in_again(open_page, live_server, live_app, screenshot):
    email = new_user(live_app, "editor")
    page = signed_in_as(open_page, live_server, email)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Profile")
    settle(page)
    check_axe(page)
    screenshot(page, "settings-profile-en-light")
    page.locator("#profile-lang").select_option("ar")
    page.locator("#profile-zone").select_option("other")
    page.locator("#profile-zone-name").fill("Asia/Tokyo")
    page.locator("#profile-theme").select_option("dark")
    page.locator("#profile-theme").locator("xpath=ancestor::form").locator("button").click()
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    page.locator("header form button[type=submit]").last.click()  # sign out
    page.wait_for_url(re.compile(r"/login"))
    later = open_page("en-light")  # another browser, nothing in its session
    sign_in(later, live_server.url, email, PASSWORD)
    later.wait_for_url(f"{live_server.url}/")
    later.goto(f"{live_server.url}/settings/profile")
    expect(later.locator("html")).to_have_attribute("lang", "ar")
    expect(later.locator("html")).to_have_attribute("dir", "rtl")
    expect(later.locator("html")).to_have_attribute("data-theme", "dark")
    expect(later.locator("#profile-zone-name")).to_have_value("Asia/Tokyo")
    expect(later.locator("#profile-zone-hint")).to_contain_text("Asia/Tokyo")


def test_password_change_shows_field_errors_then_succeeds(open_page, live_server, live_app):
    email = new_user(live_app, "viewer")
    page = signed_in_as(open_page, live_server, email)
    page.goto(f"{live_server.url}/settings/profile")
    page.locator("#current_password").fill("not my password")
    page.locator("#new_password").fill("a new password 1")
    page.locator("#confirm_password").fill("a new password 1")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#err-current_password")).to_contain_text("wrong")
    htmx_idle(page)
    page.locator("#current_password").fill(PASSWORD)
    page.locator("#new_password").fill("a new password 1")
    page.locator("#confirm_password").fill("a new password 1")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#toasts")).to_contain_text("Password changed")
    page.goto(f"{live_server.url}/settings")  # this session goes on
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")


def test_admin_disables_a_user_whose_open_session_ends(
    open_page, live_server, live_app, screenshot
):
    admin = new_user(live_app, "admin")
    victim = new_user(live_app, "editor")
    theirs = signed_in_as(open_page, live_server, victim)
    page = signed_in_as(open_page, live_server, admin)
    page.goto(f"{live_server.url}/settings/users")
    row = page.locator("tr", has_text=victim)
    expect(row.get_by_role("status")).to_have_count(0)
    expect(row).to_contain_text("Active")
    row.get_by_role("button", name=re.compile("^Disable")).click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text(victim)
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("#toasts")).to_contain_text("is disabled")
    row = page.locator("tr", has_text=victim)
    expect(row).to_contain_text("Disabled")
    expect(row.get_by_role("button", name=re.compile("^Enable"))).to_be_visible()
    theirs.reload()
    expect(theirs).to_have_url(re.compile(r"/login"))
    # axe last: it leaves empty style attributes behind, which an htmx swap would copy (CSP).
    settle(page)
    check_axe(page)
    screenshot(page, "settings-users-en-light")


def test_admin_creates_a_user_and_sees_the_password_once(open_page, live_server, live_app):
    admin = new_user(live_app, "admin")
    page = signed_in_as(open_page, live_server, admin)
    page.goto(f"{live_server.url}/settings/users")
    email = f"invited-{uuid.uuid4().hex[:8]}@example.com"
    page.locator("#email").fill(email)
    page.locator("#role").select_option("editor")
    page.get_by_role("button", name="Add user").click()
    secret = page.locator("code.secret")
    expect(secret).to_be_visible()
    password = secret.inner_text().strip()
    expect(page.locator("tr", has_text=email)).to_contain_text("Editor")
    newcomer = open_page("en-light")
    sign_in(newcomer, live_server.url, email, password)
    newcomer.wait_for_url(f"{live_server.url}/")
    page.reload()
    expect(page.locator("code.secret")).to_have_count(0)


def test_defaults_prefill_the_job_form(open_page, live_server, live_app, screenshot):
    admin = new_user(live_app, "admin")
    page = signed_in_as(open_page, live_server, admin)
    page.goto(f"{live_server.url}/settings/defaults")
    page.locator("#retry_count").fill("1000")
    page.get_by_role("button", name="Save").last.click()
    expect(page.locator("#err-retry_count")).to_contain_text("between 0 and 100")
    htmx_idle(page)
    page.locator("#retry_count").fill("3")
    page.locator("#retry_backoff").select_option("fixed")
    page.locator("#timezone").fill("Europe/Paris")
    page.locator("#queue").fill("reports")
    page.locator("#defaults-form button[type=submit]").click()
    expect(page.locator("#toasts")).to_contain_text("Defaults for new jobs saved.")
    htmx_idle(page)
    settle(page)
    check_axe(page)
    screenshot(page, "settings-defaults-en-light")
    page.goto(f"{live_server.url}/jobs/new")
    expect(page.locator("#retry_count")).to_have_value("3")
    expect(page.locator("#retry_backoff")).to_have_value("fixed")
    expect(page.locator("#timezone")).to_have_value("Europe/Paris")
    expect(page.locator("#queue")).to_have_value("reports")
    expect(page.locator("#hint-retry_count")).to_have_text("Default for new jobs: 3")
    expect(page.locator("#hint-retry_backoff")).to_have_text("Default for new jobs: Fixed")


def test_users_without_javascript_confirm_page_and_password_shown(
    open_page, live_server, live_app, screenshot, page_errors
):
    admin = new_user(live_app, "admin")
    victim = new_user(live_app, "viewer")
    page = signed_in_as(open_page, live_server, admin, "nojs")
    page.goto(f"{live_server.url}/settings/users")
    check_axe_as_without_js(open_page, page)
    row = page.locator("tr", has_text=victim)
    row.get_by_role("button", name=re.compile("^Reset password")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reset the password")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("code.secret")).to_be_visible()
    page.goto(f"{live_server.url}/settings/users")
    page.locator("tr", has_text=victim).get_by_role("button", name=re.compile("^Disable")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Disable")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#toasts")).to_contain_text("is disabled")
    expect(page.locator("tr", has_text=victim)).to_contain_text("Disabled")
    page.goto(f"{live_server.url}/settings/defaults")
    page_errors.expect_status(422)  # refused input answers 422 with the form and its errors
    page.locator("#max_instances").fill("0")
    page.locator("#defaults-form button[type=submit]").click()
    expect(page.locator("#err-max_instances")).to_contain_text("between 1 and 100")
    screenshot(page, "settings-defaults-nojs")


@pytest.mark.parametrize("kind", ["ar-dark", "phone"])
def test_settings_pages_in_arabic_and_on_a_phone(
    open_page, live_server, live_app, screenshot, kind
):
    admin = new_user(live_app, "admin")
    page = signed_in_as(open_page, live_server, admin, kind)
    for path, name in (("", "settings"), ("/users", "settings-users"), ("/profile", None)):
        page.goto(f"{live_server.url}/settings{path}")
        if kind == "ar-dark":
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
        settle(page)
        check_axe(page)
        if kind == "phone":
            assert_no_horizontal_scroll(page)
        if name:
            screenshot(page, f"{name}-{kind}")
    page.goto(f"{live_server.url}/settings/defaults")
    settle(page)
    check_axe(page)
