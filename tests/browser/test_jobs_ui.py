"""The jobs page and the shell in Chromium: en, ar, dark, phone, without JS; axe on each."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import User
from app.services import access
from app.services.scheduling import jobs
from tests.browser.conftest import USER_EMAIL, check_axe
from tests.browser.pages import (
    assert_no_horizontal_scroll,
    check_axe_as_without_js,
    settle,
    sign_in,
    signed_in_page,
)

JOB_COUNT = 25


@pytest.fixture(scope="module", autouse=True)
def seeded_jobs(live_app):
    """25 jobs of the browser user: cron and interval, one paused, some in other zones."""
    from sqlalchemy import select

    now = datetime.now(UTC)
    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == USER_EMAIL))
        if db.session.scalar(access.visible_jobs(user).limit(1)) is None:
            for number in range(JOB_COUNT):
                fields = {"name": f"Report {number:02d}", "task_function": "noop"}
                if number % 2:
                    fields |= {"schedule_config": {"minutes": 5 + number}}
                else:
                    fields |= {
                        "job_type": "cron",
                        "schedule_config": {"expression": f"{number} 2 * * 1-5"},
                        "timezone": "Europe/Berlin" if number % 4 else "America/New_York",
                    }
                job = jobs.create_job(db.session, user, fields, now)
                if number == 3:
                    jobs.apply_action(db.session, user, job, "pause", now, reason="maintenance")
            db.session.commit()


def rows(page: Page):
    return page.locator("#jobs-table tbody tr")


@pytest.mark.parametrize("kind", ["en-light", "ar-dark", "phone"])
def test_jobs_page_is_accessible_and_looks_right(open_page, live_server, screenshot, kind):
    page = signed_in_page(open_page, live_server, kind)
    expect(rows(page)).to_have_count(20)
    settle(page)
    check_axe(page)
    screenshot(page, f"jobs-{kind}")
    if kind == "ar-dark":
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("html")).to_have_attribute("lang", "ar")
        expect(page.get_by_role("heading", level=1)).to_have_text("المهام")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 21, 28)"  # the dark theme from prefers-color-scheme
    if kind == "phone":
        assert_no_horizontal_scroll(page)
        screenshot(page, "jobs-phone-first-screen", full_page=False)


def test_jobs_page_without_javascript(open_page, live_server, screenshot):
    page = signed_in_page(open_page, live_server, "nojs")
    expect(rows(page)).to_have_count(20)
    screenshot(page, "jobs-nojs")
    # The search is a plain GET form; paging and sorting are plain links.
    page.locator("#jobs-q").fill("Report 1")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"\?q=Report\+1$"))
    expect(rows(page)).to_have_count(10)
    page.get_by_role("link", name=re.compile("^Name")).click()
    page.wait_for_url(re.compile(r"sort=-name"))
    expect(rows(page).first.locator("th")).to_have_text("Report 19")
    check_axe_as_without_js(open_page, page)


def test_search_as_you_type_updates_table_and_url_and_back_restores(open_page, live_server):
    page = signed_in_page(open_page, live_server, "en-light")
    expect(rows(page)).to_have_count(20)
    page.locator("#jobs-q").press_sequentially("Report 2", delay=30)
    page.wait_for_url(re.compile(r"\?q=Report(\+|%20)2$"), wait_until="commit")
    expect(rows(page)).to_have_count(5)  # Report 20..24
    expect(page.locator("#jobs-count")).to_contain_text("5 jobs match")
    page.go_back()
    page.wait_for_url(f"{live_server.url}/", wait_until="commit")
    expect(rows(page)).to_have_count(20)
    expect(page.locator("#jobs-q")).to_have_value("")
    page.go_forward()
    expect(rows(page)).to_have_count(5)
    expect(page.locator("#jobs-q")).to_have_value("Report 2")


def test_sort_and_page_through_htmx_keep_state_in_the_url(open_page, live_server):
    page = signed_in_page(open_page, live_server, "en-light")
    page.get_by_role("link", name=re.compile("^Name")).click()
    page.wait_for_url(re.compile(r"\?sort=-name$"), wait_until="commit")
    expect(page.locator("th[aria-sort=descending]")).to_have_count(1)
    page.locator("a[rel=next]").click()
    page.wait_for_url(re.compile(r"\?sort=-name&page=2$"), wait_until="commit")
    expect(rows(page)).to_have_count(5)
    expect(rows(page).last.locator("th")).to_have_text("Report 00")
    page.reload()
    expect(rows(page).last.locator("th")).to_have_text("Report 00")


def test_language_switch_flips_direction_and_back(open_page, live_server, screenshot):
    page = signed_in_page(open_page, live_server, "en-light")
    page.locator("#jobs-q").fill("Report 1")
    page.wait_for_url(re.compile(r"\?q=Report(\+|%20)1$"), wait_until="commit")
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    assert re.search(r"\?q=Report(\+|%20)1$", page.url)  # back on the searched page
    expect(rows(page)).to_have_count(10)
    expect(page.locator("#jobs-count")).to_contain_text("10 مهام تطابق")  # the "few" form
    check_axe(page)
    screenshot(page, "jobs-ar-light")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")


def test_theme_toggle_switches_at_once_and_is_remembered(open_page, live_server, screenshot):
    page = signed_in_page(open_page, live_server, "en-light")
    toggle = page.get_by_role("button", name="Switch between light and dark theme")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    settle(page)
    check_axe(page)
    screenshot(page, "jobs-en-dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.get_by_role("button", name="Switch between light and dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")


def test_browser_time_zone_is_kept_in_its_own_cookie_and_used(browser, live_server, page_errors):
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-US")
    try:
        page = page_errors.watch(context.new_page())
        page.goto(f"{live_server.url}/login")
        expect(page.locator("body")).to_have_attribute("data-detect-zone", "")
        settle(page)
        page.reload()
        expect(page.locator("body")).not_to_have_attribute("data-detect-zone", "")
        expect(page.locator(".settings .hint")).to_contain_text("Asia/Tokyo")
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["almanac_zone"]["value"] == "Asia%2FTokyo"
        assert cookies["almanac_zone"]["sameSite"] == "Lax"
    finally:
        context.close()


def test_signing_in_at_once_is_not_undone_by_a_background_request(open_page, live_server):
    """The login page sends nothing in the background: an answer arriving after the
    sign-in would set the anonymous session cookie again (it did, with the zone)."""
    page = open_page("phone")
    background: list[str] = []
    page.on("request", lambda r: background.append(r.url) if r.method == "POST" else None)
    sign_in(page, live_server.url, live_server.email, live_server.password)
    page.wait_for_url(f"{live_server.url}/")
    settle(page)
    assert background == [f"{live_server.url}/login"]
    expect(page.locator("#status-panel")).to_be_attached()
    page.goto(f"{live_server.url}/calendar")
    assert page.url.startswith(f"{live_server.url}/calendar")


def test_display_settings_form_changes_zone_without_javascript(open_page, live_server, screenshot):
    page = signed_in_page(open_page, live_server, "nojs")
    page.locator(".settings summary").click()
    screenshot(page, "display-settings-nojs", full_page=False)
    page.locator("#pref-zone").select_option("other")
    page.locator("#pref-zone-name").fill("America/Sao_Paulo")
    page.locator(".settings-form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".when-abs").first).to_contain_text("-03")


def test_confirm_dialog_guards_a_marked_form_and_returns_focus(open_page, live_server, screenshot):
    page = signed_in_page(open_page, live_server, "en-light")
    # No page has a destructive form yet: add one the way later pages will mark theirs.
    page.evaluate(
        """() => {
        const form = document.createElement('form');
        form.method = 'get'; form.action = '/jobs';
        form.dataset.confirm = 'Delete 3 jobs?';
        form.innerHTML = '<input type="hidden" name="q" value="Report 0">'
          + '<button type="submit" id="danger">Delete</button>';
        document.querySelector('main').append(form);
    }"""
    )
    page.locator("#danger").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete 3 jobs?")
    screenshot(page, "confirm-dialog", full_page=False)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#danger")).to_be_focused()
    assert page.url == f"{live_server.url}/"
    page.locator("#danger").click()
    dialog.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"\?q=Report\+0$"))


def test_flash_becomes_a_toast_and_server_toasts_show(open_page, live_server):
    page = signed_in_page(open_page, live_server, "en-light")
    page.get_by_role("button", name="Sign out").click()
    toast = page.locator("#toasts .flash")
    expect(toast).to_contain_text("You are signed out.")
    expect(page.locator("#toasts")).to_have_class(re.compile("toasts-floating"))
    toast.get_by_role("button", name="Close").click()
    expect(toast).to_have_count(0)
    # What a later save view answers (app.htmx.add_toast), served here by Playwright.
    header = json.dumps({"toast": {"message": "Job saved.", "level": "info"}})
    page.route(
        "**/__tests__/save",
        lambda route: route.fulfill(status=200, body="", headers={"HX-Trigger": header}),
    )
    page.evaluate("() => htmx.ajax('POST', '/__tests__/save', {target: 'body', swap: 'none'})")
    expect(page.get_by_role("status")).to_contain_text("Job saved.")


def test_polling_pauses_while_the_tab_is_hidden(open_page, live_server):
    page = signed_in_page(open_page, live_server, "en-light")
    polls: list[str] = []
    page.on("request", lambda request: "poll=1" in request.url and polls.append(request.url))
    page.evaluate(
        """() => {
        const div = document.createElement('div');
        div.setAttribute('hx-get', '/jobs?poll=1');
        div.setAttribute('hx-trigger', 'every 200ms');
        div.setAttribute('hx-swap', 'none');
        document.querySelector('main').append(div);
        htmx.process(div);
    }"""
    )
    page.wait_for_timeout(700)
    assert polls, "the poll never ran"
    page.evaluate(
        """() => { Object.defineProperty(document, 'hidden', {value: true, configurable: true});
        document.dispatchEvent(new Event('visibilitychange')); }"""
    )
    page.wait_for_timeout(100)
    seen = len(polls)
    page.wait_for_timeout(800)
    assert len(polls) == seen
    page.evaluate(
        """() => { Object.defineProperty(document, 'hidden', {value: false, configurable: true});
        document.dispatchEvent(new Event('visibilitychange')); }"""
    )
    page.wait_for_timeout(700)
    assert len(polls) > seen


def test_missing_page_shows_the_error_page(open_page, live_server, page_errors):
    page_errors.expect_status(404)
    page = signed_in_page(open_page, live_server, "en-light")
    response = page.goto(f"{live_server.url}/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_contain_text("404")
    check_axe(page)
