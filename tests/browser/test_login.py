"""Signing in through the real login form in Chromium."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.pages import assert_no_horizontal_scroll, settle, sign_in

PHONE = {"width": 375, "height": 812}


def test_login_through_the_form_lands_on_jobs_showing_email(page, live_server, screenshot):
    sign_in(page, live_server.url, live_server.email, live_server.password)
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Jobs")
    expect(page.locator("header")).to_contain_text(live_server.email)
    screenshot(page, "home")


def test_wrong_password_shows_the_error(page, live_server, screenshot):
    sign_in(page, live_server.url, live_server.email, "not the password")
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password.")
    assert page.url == f"{live_server.url}/login"
    expect(page.get_by_label("E-mail")).to_have_value(live_server.email)
    screenshot(page, "login-wrong-password")


def test_login_and_home_pages_have_no_console_errors(page, live_server, page_errors, screenshot):
    page.goto(f"{live_server.url}/login")
    settle(page)
    screenshot(page, "login")
    assert page_errors.messages == []
    sign_in(page, live_server.url, live_server.email, live_server.password)
    page.wait_for_url(f"{live_server.url}/")
    settle(page)
    assert page_errors.messages == []


def test_sign_out_button_returns_to_login(page, live_server):
    sign_in(page, live_server.url, live_server.email, live_server.password)
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/login")
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")
    page.goto(f"{live_server.url}/")
    assert page.url.startswith(f"{live_server.url}/login")


def test_login_form_fits_a_phone_without_horizontal_scroll(page: Page, live_server, screenshot):
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/login")
    screenshot(page, "login-phone")
    inner_width = assert_no_horizontal_scroll(page)
    for control in (page.get_by_label("E-mail"), page.get_by_role("button", name="Sign in")):
        box = control.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= inner_width
