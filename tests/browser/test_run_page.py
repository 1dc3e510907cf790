"""The run page in Chromium: a running run's log tails itself, and polling stops when it ends."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import Execution, User, utcnow
from app.services.scheduling import jobs
from tests.browser.conftest import USER_EMAIL, check_axe
from tests.browser.pages import forget_new_jobs, settle, signed_in_page


@pytest.fixture(scope="module", autouse=True)
def _forget_jobs(live_app):
    """Other modules seed the browser user's jobs when there are none: leave none behind."""
    yield from forget_new_jobs(live_app)


@pytest.fixture
def running_run(live_app):
    """A run marked running with some log (the live server has no worker)."""
    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == USER_EMAIL))
        job = jobs.create_job(
            db.session, user, {"name": f"Tail me {uuid.uuid4().hex[:6]}", "task_function": "noop",
                               "schedule_config": {"minutes": 5}}, utcnow()
        )  # fmt: skip
        run = Execution(job_id=job.id, status="running", started_at=utcnow(),
                        log_output="step 1 <ok>\n", worker_name="worker-1")  # fmt: skip
        db.session.add(run)
        db.session.commit()
        return run.id


def set_run(live_app, run_id, **fields):
    with live_app.app_context():
        run = db.session.get(Execution, run_id)
        for key, value in fields.items():
            setattr(run, key, value)
        db.session.commit()


@pytest.mark.parametrize("kind", ["en-light", "ar-dark"])
def test_run_page_tails_the_log_and_stops_when_done(
    open_page, live_server, live_app, running_run, screenshot, kind
):
    page = signed_in_page(open_page, live_server, kind)
    page.goto(f"{live_server.url}/runs/{running_run}")
    live = page.locator("#run-live")
    expect(live).to_have_attribute("hx-trigger", "every 2s")
    expect(page.locator("#run-live pre.log")).to_contain_text("step 1 <ok>")
    check_axe(page)
    screenshot(page, f"run-running-{kind}")
    set_run(live_app, running_run, log_output="step 1 <ok>\nstep 2\n")
    expect(page.locator("#run-live pre.log")).to_contain_text("step 2", timeout=6000)
    set_run(live_app, running_run, status="success", completed_at=utcnow(), duration_seconds=3.2)
    expect(page.locator("#run-live")).to_have_attribute("data-terminal", "yes", timeout=6000)
    expect(page.locator("#run-live")).not_to_have_attribute("hx-trigger", "every 2s")
    settle(page)
    screenshot(page, f"run-done-{kind}")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.wait_for_timeout(4500)
    assert not [url for url in requests if "/runs/" in url]  # polling stopped by omission
