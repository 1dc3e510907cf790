"""The failed-tasks page in Chromium: filter, group by error, bulk-retry "all N matching" and see
the count and the new attempts, discard one row; without JavaScript, in Arabic and on a phone;
axe on each, no console errors, screenshots.

The failed runs belong to their own editor, so other modules' counts stay as they are; each
test makes its own jobs (a unique tag in their names) and filters by it.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Execution, RetryItem, User, utcnow
from app.services.scheduling import jobs
from app.services.users import accounts
from tests.browser.conftest import PASSWORD, check_axe
from tests.browser.pages import check_axe_as_without_js, htmx_idle, settle, sign_in

EMAIL = "failed-page@example.com"


def seed(live_app, errors: list[str], status: str = "dead") -> tuple[str, list[uuid.UUID]]:
    """One job per call (name "Fail <tag>"), a failed run and a retry item per error."""
    tag = uuid.uuid4().hex[:6]
    now = utcnow()
    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == EMAIL))
        if user is None:
            user = accounts.create_user(db.session, EMAIL, PASSWORD, "editor")
            db.session.commit()
        fields = {"name": f"Fail {tag}", "task_function": "noop", "schedule_config": {"hours": 1}}
        job = jobs.create_job(db.session, user, fields, now)
        ids = []
        for number, error in enumerate(errors):
            at = now - timedelta(minutes=number)
            trace = f"Traceback (most recent call last):\n  {error}"
            run = Execution(job_id=job.id, status="failed", error_message=error, created_at=at,
                            started_at=at, completed_at=at, error_traceback=trace)  # fmt: skip
            db.session.add(run)
            db.session.flush()
            item = RetryItem(execution_id=run.id, job_id=job.id, attempt=2, status=status,
                             next_try_at=at, last_error=error, created_at=at)  # fmt: skip
            db.session.add(item)
            db.session.flush()
            ids.append(item.id)
        db.session.commit()
        return tag, ids


def open_failed(open_page, live_server, kind: str = "en-light", query: str = "") -> Page:
    page = open_page(kind)
    sign_in(page, live_server.url, EMAIL, PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    if kind == "ar-dark":
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        page.request.post(
            f"{live_server.url}/preferences", form={"csrf_token": token or "", "lang": "ar"}
        )
    page.goto(f"{live_server.url}/failed{query}")
    return page


DISK = ["OSError: disk 3 full", "OSError: disk 17 full", "OSError: disk 250 full"]


def test_filter_group_then_retry_all_matching(open_page, live_server, live_app):
    tag, _ = seed(live_app, [*DISK, "KeyError: 'customer'"])
    page = open_failed(open_page, live_server)
    page.locator("#failed-filter-job").fill(f"Fail {tag}")
    page.locator("#failed-filter-job").dispatch_event("change")
    page.wait_for_url(re.compile(f"job=Fail(\\+|%20){tag}"), wait_until="commit")
    expect(page.locator("#failed-count")).to_have_text("4 failed runs match.")
    page.locator("#failed-filter-q").fill("disk")
    expect(page.locator("#failed-count")).to_have_text("3 failed runs match.")
    page.locator("#failed-filter-q").fill("")
    expect(page.locator("#failed-count")).to_have_text("4 failed runs match.")
    page.get_by_role("link", name="Grouped by error").click()
    groups = page.locator("tr.error-group")
    expect(groups).to_have_count(2)
    expect(groups.first).to_contain_text("OSError")
    expect(groups.first).to_contain_text("disk <n> full")
    expect(groups.first.locator("td.num")).to_have_text("3")
    settle(page)
    check_axe(page)
    groups.first.get_by_role("link", name="Show 3").click()
    expect(page.locator("#failed-count")).to_have_text("3 failed runs with this error.")
    htmx_idle(page)
    page.locator("#failed-all").check()
    page.locator("#failed-action").select_option("trigger")
    page.get_by_role("button", name="Apply…").click()
    dialog = page.locator("#failed-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Retry now: 3 failed runs?")
    check_axe(page)
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("#toasts")).to_contain_text("3 queued for retry")
    expect(page.locator("#failed-count")).to_have_text("0 failed runs with this error.")
    # The new attempts are on the runs page, second attempts triggered by the retry.
    page.goto(f"{live_server.url}/runs?trigger=retry&job=Fail+{tag}")
    rows = page.locator("#runs-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first.locator('[data-label="Attempt"]')).to_have_text("2")
    expect(rows.first.locator('[data-status="queued"]')).to_be_visible()


def test_discard_one_row_in_the_dialog(open_page, live_server, live_app):
    tag, ids = seed(live_app, ["ValueError: bad row 12", "ValueError: bad row 13"])
    page = open_failed(open_page, live_server, query=f"?job=Fail+{tag}")
    row = page.locator(f"#failed-row-{ids[0]}")
    row.get_by_role("button", name=re.compile("^Discard")).click()
    dialog = page.locator("#failed-dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Discard: 1 failed run?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    row.get_by_role("button", name=re.compile("^Discard")).click()
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("#toasts")).to_contain_text("1 discarded")
    expect(page.locator(f"#failed-row-{ids[0]}")).to_have_count(0)
    expect(page.locator(f"#failed-row-{ids[1]}")).to_be_visible()


def test_item_page_shows_traceback_and_attempts(open_page, live_server, live_app, screenshot):
    tag, ids = seed(live_app, ["RuntimeError: boom 7"])
    page = open_failed(open_page, live_server, query=f"?job=Fail+{tag}")
    page.locator(f"#failed-row-{ids[0]}").get_by_role("link", name=re.compile("^Details")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Fail {tag}")
    expect(page.locator("pre.log")).to_contain_text("Traceback (most recent call last):")
    expect(page.locator("table.attempts tbody tr")).to_have_count(1)
    settle(page)
    check_axe(page)
    screenshot(page, "failed-detail-en-light")


def test_without_javascript_filter_and_retry_ticked_rows(
    open_page, live_server, live_app, screenshot
):
    tag, ids = seed(live_app, DISK)
    page = open_failed(open_page, live_server, "nojs")
    page.locator("#failed-filter-job").fill(f"Fail {tag}")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(f"job=Fail\\+{tag}"))
    expect(page.locator("#failed-count")).to_have_text("3 failed runs match.")
    check_axe_as_without_js(open_page, page)
    for item_id in ids[:2]:
        page.locator(f"#failed-row-{item_id} input[type=checkbox]").check()
    page.locator("#failed-action").select_option("trigger")
    page.get_by_role("button", name="Apply…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Retry now: 2 failed runs?")
    screenshot(page, "failed-confirm-nojs", full_page=False)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#toasts")).to_contain_text("2 queued for retry")
    expect(page.locator("#failed-count")).to_have_text("1 failed run matches.")


@pytest.mark.parametrize("kind", ["en-light", "ar-dark", "phone"])
def test_failed_page_is_accessible_and_screenshots(
    open_page, live_server, live_app, screenshot, kind
):
    tag, _ = seed(live_app, [*DISK, "KeyError: 'customer'", "TimeoutError: read 512 bytes"])
    page = open_failed(open_page, live_server, kind, query=f"?job=Fail+{tag}")
    expect(page.locator("#failed-region tbody tr")).to_have_count(5)
    if kind == "ar-dark":
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.get_by_role("heading", level=1)).to_have_text("المهام الفاشلة")
    settle(page)
    check_axe(page)
    screenshot(page, f"failed-{kind}")
    # Screenshots last: Playwright leaves style="" on inputs, which htmx would copy on a swap.
    page.goto(f"{live_server.url}/failed?job=Fail+{tag}&view=groups")
    expect(page.locator("tr.error-group")).to_have_count(3)
    settle(page)
    check_axe(page)
    screenshot(page, f"failed-groups-{kind}")
