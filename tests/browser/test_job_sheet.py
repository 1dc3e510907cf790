"""The create/edit sheet opened from the jobs table: saved in place, no reload, no CSP error."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.pages import forget_new_jobs, htmx_idle, settle, signed_in_page


@pytest.fixture(scope="module", autouse=True)
def _forget(live_app):
    yield from forget_new_jobs(live_app)


def test_create_in_the_sheet_then_edit_from_the_row(open_page, live_server, screenshot):
    page = signed_in_page(open_page, live_server, "en-light")
    name = f"Sheet job {uuid.uuid4().hex[:6]}"
    page.get_by_role("link", name="Create a job").first.click()
    sheet = page.locator("#job-sheet")
    expect(sheet).to_be_visible()
    # The dialog is named by the form's heading (the summaries use their own).
    expect(page.get_by_role("dialog", name="New job")).to_be_visible()
    sheet.locator("input[name=name]").fill(name)
    # Saved without a schedule: the errors appear in the sheet, which stays open.
    sheet.get_by_role("button", name="Save").click()
    expect(sheet.locator("[aria-invalid=true]").first).to_be_visible()
    expect(sheet).to_be_visible()
    htmx_idle(page)
    sheet.locator("input[name=cron_expression]").fill("*/5 * * * *")
    expect(sheet.locator("#job-preview")).to_contain_text("UTC")
    settle(page)
    screenshot(page, "job-sheet-en-light", full_page=False)
    sheet.get_by_role("button", name="Save").click()
    # Saved: the sheet closes, a toast confirms, the row is in the table; no page load.
    expect(sheet).to_be_hidden()
    expect(page.locator("#toasts")).to_contain_text("Job created.")
    row = page.locator("#jobs-table tbody tr", has_text=name)
    expect(row).to_have_count(1)
    # Edit from the row's menu, in the same sheet.
    row.locator("summary").click()
    row.get_by_role("link", name="Edit").click()
    expect(sheet).to_be_visible()
    sheet.locator("input[name=name]").fill(name + " renamed")
    sheet.get_by_role("button", name="Save").click()
    expect(sheet).to_be_hidden()
    expect(page.locator("#jobs-table tbody tr", has_text=name + " renamed")).to_have_count(1)


def test_a_field_check_answering_after_save_closed_the_sheet_is_no_error(open_page, live_server):
    """Save can close (and empty) the sheet while the form's check of a field is in flight;
    that answer's out-of-band swaps must still find their targets (no htmx error)."""
    page = signed_in_page(open_page, live_server, "en-light")
    held = []
    page.route("**/jobs/validate", lambda route: held.append(route))  # answered after the close
    page.get_by_role("link", name="Create a job").first.click()
    sheet = page.locator("#job-sheet")
    expect(sheet).to_be_visible()
    htmx_idle(page)
    sheet.locator("input[name=name]").fill(f"Late check {uuid.uuid4().hex[:6]}")
    sheet.locator("input[name=cron_expression]").fill("*/5 * * * *")
    sheet.get_by_role("button", name="Save").click()
    expect(sheet).to_be_hidden()
    assert held, "the field check was not sent"
    with page.expect_response("**/jobs/validate"):
        for route in held:
            route.continue_()
    htmx_idle(page)
    # Emptied once the late answer is in: the next opening starts afresh.
    expect(page.locator("#job-sheet-body > *")).to_have_count(0)
