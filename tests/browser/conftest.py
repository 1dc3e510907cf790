"""A real Almanac server in a thread and a real Chromium driven by Playwright.

Run with ``pytest -m browser``. Chromium is the Debian package at
/usr/bin/chromium; when it is missing the tests fail (CI installs it) rather
than skip.

Every page opened through the fixtures here fails its test on a console error,
an uncaught exception or a response >= 400 (unless the test says it expects
that status). ``open_page(kind)`` gives the four ways people see Almanac:
English light, Arabic dark, a 375 px phone, and JavaScript off.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Response,
    sync_playwright,
)
from sqlalchemy import update
from werkzeug.serving import make_server

from app.extensions import db
from app.models import User
from app.services.scheduling import catalog
from app.services.users import accounts
from tests.conftest import PASSWORD, make_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
USER_EMAIL = "browser@example.com"

# The four ways the pages are checked: options for Browser.new_context, plus the language
# preference to store (Arabic also through the preference, not only Accept-Language).
CONTEXTS: dict[str, dict[str, Any]] = {
    "en-light": {"locale": "en-US", "color_scheme": "light"},
    "ar-dark": {"locale": "ar", "color_scheme": "dark", "lang": "ar"},
    "phone": {"locale": "en-US", "viewport": {"width": 375, "height": 812}, "is_mobile": True},
    "nojs": {"locale": "en-US", "java_script_enabled": False},
}


@pytest.hookimpl(tryfirst=True)  # before ``-m "not browser"`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser drives Chromium: mark it ``browser``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    """The running server and the user who can sign in to it."""

    url: str
    email: str = USER_EMAIL
    password: str = PASSWORD


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The app behind the live server (tests use it to add jobs)."""
    database = tmp_path_factory.mktemp("browser-db") / "almanac.db"
    # SERVER_NAME would make Flask answer 404 to requests for 127.0.0.1:<port>; the
    # login rate limit has its own tests and must not trip as browser tests are added.
    app = make_app(f"sqlite:///{database}", SERVER_NAME=None, LOGIN_RATE_LIMIT="1000 per minute")
    with app.app_context():
        db.create_all()
        catalog.ensure_catalog(db.session)
        accounts.create_user(db.session, USER_EMAIL, PASSWORD, "editor")
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def fresh_preferences(live_app: Any) -> None:
    """Each test starts with every user's saved language, zone and theme cleared.

    Preferences are kept per user across sign-ins, so a test that switches to
    Arabic would otherwise leave every later test signing in to Arabic pages.
    """
    with live_app.app_context():
        db.session.execute(update(User).values(preferences=None))
        db.session.commit()


@pytest.fixture(scope="session")
def live_server(live_app: Any) -> Iterator[LiveServer]:
    """Almanac on a fresh SQLite file, served by werkzeug on a free port."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium."""
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: apt-get install chromium (the browser tests need it)"
    )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class PageErrors:
    """Console errors, uncaught exceptions and failed responses seen on the pages of a test."""

    messages: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text} ({message.location.get('url')})")

    def page_error(self, error: Error) -> None:
        self.messages.append(f"pageerror: {error}")

    def response(self, response: Response) -> None:
        if response.status >= 400 and response.status not in self.expected_statuses:
            self.messages.append(f"response: {response.status} {response.url}")

    def expect_status(self, status: int) -> None:
        """This test means to see ``status`` (its console line is expected too)."""
        self.expected_statuses.add(status)

    def unexpected(self) -> list[str]:
        """The messages that fail the test.

        Leaving a page aborts its in-flight htmx requests (a poll, a lazy panel), and
        htmx reports every abort at error level as ``htmx:afterRequest`` then
        ``htmx:sendAbort``. That pair is the browser cancelling work nobody waits
        for any more, not a fault of the page; every other htmx error still fails.
        """
        kept: list[str] = []
        for message in self.messages:
            if message.startswith("console: htmx:sendAbort"):
                if kept and kept[-1].startswith("console: htmx:afterRequest"):
                    kept.pop()
                continue
            kept.append(message)
        return kept

    def watch(self, target: Page) -> Page:
        target.on("console", self._console_unless_expected)
        target.on("pageerror", self.page_error)
        target.on("response", self.response)
        return target

    def _console_unless_expected(self, message: ConsoleMessage) -> None:
        # Chromium logs every 4xx/5xx document as "Failed to load resource".
        if any(f"status of {status}" in message.text for status in self.expected_statuses):
            return
        self.console(message)


@pytest.fixture
def page_errors() -> Iterator[PageErrors]:
    """Collected errors; the test fails at teardown if there are any."""
    errors = PageErrors()
    yield errors
    unexpected = errors.unexpected()
    assert unexpected == [], "the page reported errors:\n" + "\n".join(unexpected)


@pytest.fixture
def open_page(browser: Browser, page_errors: PageErrors) -> Iterator[Callable[..., Page]]:
    """``open_page(kind)`` → a watched page in a fresh context of that kind (see CONTEXTS)."""
    contexts: list[BrowserContext] = []

    def factory(kind: str = "en-light") -> Page:
        options = {k: v for k, v in CONTEXTS[kind].items() if k != "lang"}
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(**options)
        contexts.append(context)
        new_page = context.new_page()
        new_page.set_default_timeout(10_000)
        return page_errors.watch(new_page)

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page: Callable[..., Page]) -> Page:
    """A fresh English, light, desktop page (no cookies)."""
    return open_page("en-light")


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """``screenshot(page, name)`` saves a PNG (full page by default) under screenshots/."""

    def save(target: Page, name: str, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        target.screenshot(path=str(path), full_page=full_page)
        return path

    return save


AXE_PATH = "/__tests__/axe.min.js"


def check_axe(target: Page) -> None:
    """Run axe-core in the page; fail on any serious or critical violation.

    The pages forbid inline script (CSP ``script-src 'self'``), so axe is
    added as a same-origin ``<script src>`` whose answer Playwright serves
    from tests/browser/vendor; the app never serves it.
    """
    if not target.evaluate("() => Boolean(window.axe)"):
        target.route(f"**{AXE_PATH}", lambda route: route.fulfill(path=str(AXE)))
        origin = target.evaluate("() => location.origin")
        target.add_script_tag(url=origin + AXE_PATH)
    results = target.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], "axe found:\n" + "\n".join(bad)
