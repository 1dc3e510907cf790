"""Helpers the browser tests share: sign in, wait, check layout, run axe without JS."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from playwright.sync_api import Page, Route

from tests.browser.conftest import CONTEXTS, check_axe


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    """Fill in the login form and submit it like a person would (any language)."""
    page.goto(f"{url}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()


def signed_in_page(open_page: Callable[..., Page], live_server, kind: str) -> Page:
    """A page of ``kind`` signed in on the jobs page, with its language preference saved."""
    page = open_page(kind)
    sign_in(page, live_server.url, live_server.email, live_server.password)
    page.wait_for_url(f"{live_server.url}/")
    lang = CONTEXTS[kind].get("lang")
    if lang:
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        page.request.post(
            f"{live_server.url}/preferences", form={"csrf_token": token or "", "lang": lang}
        )
        page.reload()
    return page


def htmx_idle(page: Page) -> None:
    """Wait until htmx has swapped and settled, so new content has its triggers attached.

    htmx wires up swapped-in elements in its settle step (20 ms after the swap); a
    field filled before then fires its ``input`` event with no listener.
    """
    busy = ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"
    page.wait_for_function(f"() => !document.querySelector('{busy}')")


def settle(page: Page) -> None:
    """Let late requests (the favicon, the zone sent in the background) finish."""
    page.wait_for_load_state("networkidle")


def assert_no_horizontal_scroll(page: Page) -> int:
    """The page is no wider than the viewport; returns the viewport width.

    A mobile context (``is_mobile``) zooms out to show a page wider than the device,
    and ``innerWidth`` then grows with the page: the width the context was opened
    with is the bound, not ``innerWidth`` alone.
    """
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    viewport = page.viewport_size
    width = min(inner_width, viewport["width"]) if viewport else inner_width
    if scroll_width > width:
        culprits = page.evaluate(WIDEST_SCRIPT, width)
        raise AssertionError(
            f"the page is {scroll_width} px wide in a {width} px viewport; sticking out:\n"
            + "\n".join(culprits)
        )
    return int(width)


# The innermost elements reaching past the viewport's end: where to look.
WIDEST_SCRIPT = """width => [...document.body.querySelectorAll('*')]
  .filter(e => e.getBoundingClientRect().right > width + 1)
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > width + 1))
  .slice(0, 8)
  .map(e => {
    const box = e.getBoundingClientRect();
    return `${e.tagName.toLowerCase()}.${e.className} (${getComputedStyle(e).position}) `
      + `${Math.round(box.left)}..${Math.round(box.right)}: `
      + (e.textContent || '').trim().slice(0, 50);
  })"""


def _empty_script(route: Route) -> None:
    route.fulfill(status=200, content_type="text/javascript", body="")


def check_axe_as_without_js(open_page: Callable[..., Page], nojs_page: Page) -> None:
    """axe needs JavaScript: check the same URL and session with the page's own scripts emptied.

    The DOM is then exactly what a browser without JavaScript shows (no ``js``
    class, no htmx processing), and axe can run in it.
    """
    page = open_page("en-light")
    page.context.add_cookies(nojs_page.context.cookies())
    page.route("**/static/js/app.js", _empty_script)
    page.route("**/static/vendor/**/*.js", _empty_script)
    page.goto(nojs_page.url)
    assert "js" not in (page.locator("html").get_attribute("class") or "")
    check_axe(page)


def forget_new_jobs(live_app) -> Iterator[None]:
    """Soft-delete the jobs a test module created, so modules that seed jobs find none of them.

    Use as a module fixture body: ``yield from forget_new_jobs(live_app)``.
    """
    from sqlalchemy import select

    from app.extensions import db
    from app.models import ScheduledJob, utcnow

    with live_app.app_context():
        before = set(db.session.scalars(select(ScheduledJob.id)))
    yield
    with live_app.app_context():
        for job in db.session.scalars(
            select(ScheduledJob).where(ScheduledJob.deleted_at.is_(None))
        ):
            if job.id not in before:
                job.deleted_at = utcnow()
        db.session.commit()
