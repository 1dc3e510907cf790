"""A real Almanac server in a thread and a real Chromium driven by Playwright.

Run with ``pytest -m browser``. Chromium is the Debian package at
/usr/bin/chromium; when it is missing the tests fail (CI installs it) rather
than skip.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright
from werkzeug.serving import make_server

from app.extensions import db
from app.services import accounts, catalog
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
USER_EMAIL = "browser@example.com"


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
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Almanac on a fresh SQLite file, served by werkzeug on a free port."""
    database = tmp_path_factory.mktemp("browser-db") / "almanac.db"
    # SERVER_NAME would make Flask answer 404 to requests for 127.0.0.1:<port>; the
    # login rate limit has its own tests and must not trip as browser tests are added.
    app = make_app(f"sqlite:///{database}", SERVER_NAME=None, LOGIN_RATE_LIMIT="1000 per minute")
    with app.app_context():
        db.create_all()
        catalog.ensure_catalog(db.session)
        accounts.create_user(db.session, USER_EMAIL, PASSWORD, "editor")
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


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
    """Console errors and uncaught exceptions seen on a page."""

    messages: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text} ({message.location.get('url')})")

    def page_error(self, error: Error) -> None:
        self.messages.append(f"pageerror: {error}")


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def page(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page, collecting errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    new_page = context.new_page()
    new_page.set_default_timeout(10_000)
    new_page.on("console", page_errors.console)
    new_page.on("pageerror", page_errors.page_error)
    yield new_page
    context.close()


@pytest.fixture
def screenshot() -> object:
    """``screenshot(page, name)`` saves a full-page PNG under screenshots/."""

    def save(target: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        target.screenshot(path=str(path), full_page=True)
        return path

    return save
