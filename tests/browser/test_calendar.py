"""The calendar in Chromium: views, navigation, a filter, entries in the sheet, click-through and
Back; no JS; Arabic; the week on a phone."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Execution, User, utcnow
from app.services.scheduling import jobs
from tests.browser.conftest import USER_EMAIL, check_axe
from tests.browser.pages import (
    assert_no_horizontal_scroll,
    check_axe_as_without_js,
    forget_new_jobs,
    htmx_idle,
    settle,
    signed_in_page,
)

TAG = uuid.uuid4().hex[:6]
DAILY = f"Nightly export {TAG}"


@pytest.fixture(scope="module", autouse=True)
def _forget_jobs(live_app):
    yield from forget_new_jobs(live_app)


@pytest.fixture(scope="module")
def seeded(live_app):
    """The browser user's jobs: a daily one with a failed run yesterday and a missed slot,
    a frequent one (a bar per day), and runs of each outcome over the last days."""
    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == USER_EMAIL))
        now = utcnow()

        def make(name, config, job_type="cron"):
            fields = {"name": name, "task_function": "noop", "job_type": job_type,
                      "schedule_config": config, "timezone": "UTC"}  # fmt: skip
            return jobs.create_job(db.session, user, fields, now - timedelta(days=20))

        daily = make(DAILY, {"expression": "0 9 * * *"})
        make(f"Heartbeat {TAG}", {"minutes": 5}, "interval")
        hourly = make(f"Hourly sync {TAG}", {"expression": "15 */6 * * *"})
        yesterday = (now - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        failed = Execution(job_id=daily.id, status="failed", scheduled_for=yesterday,
                           error_message="boom")  # fmt: skip
        missed = Execution(job_id=daily.id, status="missed", reason="Scheduler was down",
                           scheduled_for=yesterday - timedelta(days=1))  # fmt: skip
        db.session.add_all([failed, missed])
        for days in range(2, 9):
            slot = (now - timedelta(days=days)).replace(hour=12, minute=15, second=0, microsecond=0)
            status = ("success", "success", "failed", "skipped")[days % 4]
            reason = "Still running" if status == "skipped" else None
            db.session.add(
                Execution(job_id=hourly.id, status=status, scheduled_for=slot, reason=reason)
            )
        db.session.commit()
        tomorrow = (now + timedelta(days=1)).date().isoformat()
        day = yesterday.date().isoformat()
        return {"daily": daily.id, "failed": failed.id, "day": day, "tomorrow": tomorrow}


def region(page: Page):
    return page.locator("#calendar")


def go(page: Page, live_server, query: str) -> None:
    page.goto(f"{live_server.url}/calendar?{query}")


def test_views_navigation_filter_click_through_and_back(open_page, live_server, seeded):
    page = signed_in_page(open_page, live_server, "en-light")
    go(page, live_server, "zone=UTC")
    expect(region(page).locator("table.cal-month")).to_be_visible()
    for view, marker in (
        ("Week", "table.cal-week"),
        ("Day", "table.cal-day"),
        ("List", ".cal-list, .empty"),
    ):
        region(page).get_by_role("link", name=view, exact=True).click()
        expect(page).to_have_url(re.compile(f"view={view.lower()}"))
        htmx_idle(page)
        expect(region(page).locator(marker).first).to_be_visible()
    title = region(page).locator("#cal-title").inner_text()
    region(page).get_by_role("link", name="Previous").click()
    htmx_idle(page)
    expect(region(page).locator("#cal-title")).not_to_have_text(title)
    region(page).get_by_role("link", name="Next").click()
    htmx_idle(page)
    expect(region(page).locator("#cal-title")).to_have_text(title)
    region(page).get_by_role("link", name="Today").click()
    htmx_idle(page)
    expect(page).to_have_url(re.compile(r"date=\d{4}-\d{2}-\d{2}"))
    # The day with the failed run, as a list, filtered to failures of this job.
    go(page, live_server, f"view=list&zone=UTC&date={seeded['day']}&q={TAG}")
    region(page).locator("#cal-outcome").select_option("failed")
    region(page).get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile("outcome=failed"))
    htmx_idle(page)
    rows = region(page).locator(".cal-row")
    expect(rows.filter(has_text=DAILY)).to_have_count(1)
    expect(region(page).locator('[data-status="missed"]')).to_have_count(0)
    filtered_url = page.url
    # axe last on this page: it leaves style attributes that htmx's settle would copy.
    check_axe(page)
    # The row opens its run in the sheet; the sheet's link opens the run's page; Back
    # brings the filtered list back as it was.
    rows.filter(has_text=DAILY).get_by_role("link", name=DAILY).click()
    sheet = page.locator("#job-sheet")
    expect(sheet.get_by_role("heading", name=f"Run of {DAILY}")).to_be_visible()
    assert page.url == filtered_url  # the sheet pushes no URL, like the jobs page's
    htmx_idle(page)
    sheet.get_by_role("link", name="Open the run's page").click()
    expect(page).to_have_url(re.compile(f"/runs/{seeded['failed']}"))
    page.go_back()
    expect(page).to_have_url(filtered_url)
    expect(region(page).locator(".cal-row").filter(has_text=DAILY)).to_have_count(1)
    expect(region(page).locator("#cal-outcome")).to_have_value("failed")
    expect(sheet).to_be_hidden()
    # A future occurrence opens its job in the sheet, and from there its page.
    query = f"q={DAILY.replace(' ', '+')}&outcome=scheduled&date={seeded['tomorrow']}"
    go(page, live_server, f"view=list&zone=UTC&{query}")
    region(page).locator(f'.cal-row a:text("{DAILY}")').first.click()
    expect(sheet.get_by_role("heading", name=DAILY)).to_be_visible()
    htmx_idle(page)
    sheet.get_by_role("link", name="Open the job's page").click()
    expect(page).to_have_url(re.compile(f"/jobs/{seeded['daily']}"))


def test_entries_open_their_run_or_job_in_the_sheet(open_page, live_server, seeded, screenshot):
    page = signed_in_page(open_page, live_server, "en-light")
    sheet = page.locator("#job-sheet")
    # A past entry in the week grid: its run (status, error, links), the URL unchanged.
    go(page, live_server, f"view=week&zone=UTC&date={seeded['day']}&q={TAG}")
    week_url = page.url
    past = region(page).locator('.cal-item[data-kind="run"][data-status="failed"]', has_text=DAILY)
    expect(past).to_have_count(1)
    past.click()
    expect(sheet.get_by_role("heading", name=f"Run of {DAILY}")).to_be_visible()
    expect(sheet.locator('#run-live [data-status="failed"]')).to_be_visible()
    expect(sheet).to_contain_text("boom")
    run_link = sheet.get_by_role("link", name="Open the run's page")
    expect(run_link).to_have_attribute("href", f"/runs/{seeded['failed']}")
    assert page.url == week_url
    htmx_idle(page)
    expect(sheet.get_by_role("button", name="Close")).to_be_focused()
    settle(page)
    screenshot(page, "calendar-sheet-run-en-light", full_page=False)
    # Esc closes it and gives the focus back to the entry; the sheet is emptied.
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    expect(past).to_be_focused()
    expect(sheet.locator("#run-live")).to_have_count(0)
    # A future entry: its job, with its next fire times and a link to its page.
    go(page, live_server, f"view=week&zone=UTC&date={seeded['tomorrow']}&q={TAG}")
    future = region(page).locator('.cal-item[data-kind="occurrence"]', has_text=DAILY).first
    future.click()
    expect(sheet.get_by_role("heading", name=DAILY)).to_be_visible()
    expect(sheet.locator(".fire-times tbody tr")).to_have_count(5)
    job_link = sheet.get_by_role("link", name="Open the job's page")
    expect(job_link).to_have_attribute("href", f"/jobs/{seeded['daily']}")
    htmx_idle(page)
    check_axe(page)
    sheet.get_by_role("button", name="Close").click()
    expect(sheet).to_be_hidden()
    expect(future).to_be_focused()
    # Ctrl-click is still a link's: the job's page in a new tab, no sheet here.
    with page.context.expect_page() as opened:
        future.click(modifiers=["Control"])
    opened.value.wait_for_load_state()
    assert opened.value.url.endswith(f"/jobs/{seeded['daily']}")
    expect(sheet).to_be_hidden()
    opened.value.close()
    # A frequent job's day bar opens the job too.
    bar = region(page).locator('.cal-item[data-kind="bar"]', has_text=f"Heartbeat {TAG}").first
    bar.click()
    expect(sheet.get_by_role("heading", name=f"Heartbeat {TAG}")).to_be_visible()
    expect(sheet.get_by_role("link", name="Open the job's page")).to_be_visible()


def test_without_javascript_links_load_whole_pages(open_page, live_server, seeded):
    page = signed_in_page(open_page, live_server, "nojs")
    go(page, live_server, "zone=UTC")
    page.get_by_role("link", name="Week", exact=True).click()
    expect(page).to_have_url(re.compile("view=week"))
    expect(page.locator("table.cal-week")).to_be_visible()
    page.get_by_role("link", name="Next").click()
    expect(page.locator("table.cal-week")).to_be_visible()
    page.locator("#cal-q").fill(TAG)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(f"q={TAG}"))
    go(page, live_server, f"view=list&zone=UTC&date={seeded['day']}&q={TAG}")
    page.locator(".cal-row").filter(has_text=DAILY).first.get_by_role("link").click()
    expect(page).to_have_url(re.compile("/runs/"))
    # An entry of the week grid is a plain link too: the run's page, no sheet.
    go(page, live_server, f"view=week&zone=UTC&date={seeded['day']}&q={TAG}")
    region(page).locator('.cal-item[data-status="failed"]', has_text=DAILY).click()
    expect(page).to_have_url(re.compile(f"/runs/{seeded['failed']}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Run of {DAILY}")
    go(page, live_server, "zone=UTC")
    check_axe_as_without_js(open_page, page)


# Screenshots only on pages that are not swapped afterwards: Playwright's screenshot leaves
# style="" on inputs, which htmx's settle would copy into new content (a CSP report).
@pytest.mark.parametrize("kind", ["en-light", "ar-dark", "phone"])
def test_month_and_week_look(open_page, live_server, seeded, screenshot, kind):
    page = signed_in_page(open_page, live_server, kind)
    go(page, live_server, "zone=UTC")
    expect(region(page).locator("table.cal-month")).to_be_visible()
    if kind == "ar-dark":
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("html")).to_have_attribute("lang", "ar")
    else:
        assert_no_horizontal_scroll(page)
    settle(page)
    check_axe(page)
    screenshot(page, f"calendar-month-{kind}")
    go(page, live_server, "view=week&zone=UTC")
    expect(region(page).locator("table.cal-week")).to_be_visible()
    if kind == "phone":
        assert_no_horizontal_scroll(page)
    settle(page)
    check_axe(page)
    screenshot(page, f"calendar-week-{kind}")
    # An entry's sheet: full width on a phone, from the inline end (the left) in Arabic.
    region(page).locator(".cal-item").first.click()
    sheet = page.locator("#job-sheet")
    expect(sheet.locator(".sheet-head h2")).to_be_visible()
    htmx_idle(page)
    box, width = sheet.bounding_box(), page.evaluate("document.documentElement.clientWidth")
    assert box
    if kind == "phone":
        assert box["width"] >= width - 1
    elif kind == "ar-dark":
        assert box["x"] <= 1 and box["width"] < width - 200
    else:
        assert box["x"] + box["width"] >= width - 1 and box["width"] < width - 200
    settle(page)
    check_axe(page)
    screenshot(page, f"calendar-sheet-{kind}", full_page=False)


def hour_column_edges(page: Page) -> tuple[float, float, float, float]:
    """The scroll box's and the 00:00 hour cell's left and right edges."""
    box = region(page).locator(".table-scroll").bounding_box()
    cell = region(page).locator("table.cal-week tbody th.cal-hourcol").first.bounding_box()
    assert box and cell
    return box["x"], box["x"] + box["width"], cell["x"], cell["x"] + cell["width"]


@pytest.mark.parametrize("kind", ["phone", "ar-dark"])
def test_week_on_a_phone_scrolls_in_its_box_with_the_hours_in_view(
    open_page, live_server, seeded, screenshot, kind
):
    page = signed_in_page(open_page, live_server, kind)
    if kind == "ar-dark":
        page.set_viewport_size({"width": 375, "height": 812})
    go(page, live_server, f"view=week&zone=UTC&date={seeded['day']}&q={TAG}")
    expect(region(page).locator("table.cal-week")).to_be_visible()
    # The page never scrolls sideways; the week does, inside its own box.
    assert_no_horizontal_scroll(page)
    scroller = region(page).locator(".table-scroll")
    assert scroller.evaluate("box => box.scrollWidth > box.clientWidth + 100")
    start, end, cell_start, cell_end = hour_column_edges(page)
    rtl = kind == "ar-dark"
    # The hours sit at the inline start: the left in English, the right in Arabic…
    assert abs((end - cell_end) if rtl else (cell_start - start)) <= 2
    # …and stay there when the days scroll to the other end.
    sign = -1 if rtl else 1  # scrollLeft runs negative in a right-to-left box
    scroller.evaluate(f"box => {{ box.scrollLeft = {sign} * box.scrollWidth; }}")
    assert abs(scroller.evaluate("box => box.scrollLeft")) > 100
    _, _, moved_start, moved_end = hour_column_edges(page)
    assert abs(moved_start - cell_start) <= 1 and abs(moved_end - cell_end) <= 1
    # The entries of the last days are the ones in view now.
    last_day = region(page).locator("table.cal-week thead th[data-day]").last.bounding_box()
    assert last_day and start - 1 <= last_day["x"] and last_day["x"] + last_day["width"] <= end + 1
    assert_no_horizontal_scroll(page)
    settle(page)
    check_axe(page)
    screenshot(page, f"calendar-week-scrolled-{kind}", full_page=False)


@pytest.fixture
def aggregated(live_app):
    """The calendar aggregates beyond one job (the setting is read per request)."""
    before = live_app.config["CALENDAR_AGGREGATE_AFTER"]
    live_app.config["CALENDAR_AGGREGATE_AFTER"] = 1
    yield
    live_app.config["CALENDAR_AGGREGATE_AFTER"] = before


@pytest.mark.parametrize("kind", ["en-light", "ar-dark", "phone"])
def test_aggregated_month_and_week_show_totals_that_open_the_day(
    open_page, live_server, seeded, aggregated, screenshot, kind
):
    page = signed_in_page(open_page, live_server, kind)
    go(page, live_server, f"zone=UTC&q={TAG}")
    notice = region(page).locator(".cal-aggregated")
    expect(notice).to_be_visible()
    # Yesterday's cell counts the daily job's failed run among all jobs' totals.
    day = region(page).locator(f'td[data-day="{seeded["day"]}"]')
    total = day.locator(".cal-summary")
    expect(total).to_have_class(re.compile("tone-bad"))
    if kind != "ar-dark":
        expect(total).to_contain_text("failed 1")
        assert_no_horizontal_scroll(page)
    if kind != "phone":  # a wide month keeps the sentence, without the phone's figures
        expect(total.locator(".cal-summary-words")).to_be_visible()
        expect(total.locator(".cal-figures")).to_be_hidden()
        expect(region(page).locator(".cal-key")).to_be_hidden()
    total.click()
    expect(page).to_have_url(
        re.compile(f"view=day.*date={seeded['day']}|date={seeded['day']}.*view=day")
    )
    expect(region(page).locator(".cal-aggregated")).to_be_visible()
    go(page, live_server, f"view=week&zone=UTC&q={TAG}")
    expect(region(page).locator("table.cal-week .cal-summary").first).to_be_visible()
    if kind == "phone":
        assert_no_horizontal_scroll(page)
    settle(page)
    check_axe(page)
    # Last, as no swap follows it (see above).
    go(page, live_server, f"zone=UTC&q={TAG}")
    expect(region(page).locator(".cal-aggregated")).to_be_visible()
    settle(page)
    screenshot(page, f"calendar-month-aggregated-{kind}")


# Each month cell's totals link: every visible word's box, and how many lines each text takes.
# Visually-hidden text (clipped) and hidden text are for assistive tech only: not measured.
TOTALS_FIT_SCRIPT = """
cells => cells.flatMap(cell => {
  const link = cell.querySelector('.cal-summary');
  if (!link) return [];
  const box = cell.getBoundingClientRect();
  const shown = element => {
    for (let at = element; at && at !== cell; at = at.parentElement) {
      const style = getComputedStyle(at);
      const hidden = style.display === 'none' || style.visibility === 'hidden';
      if (hidden || style.clipPath !== 'none') return false;
    }
    return true;
  };
  const problems = [];
  const walker = document.createTreeWalker(link, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    if (!shown(node.parentElement)) continue;
    const lines = new Set();
    let words = 0;
    for (const match of node.data.matchAll(/\\S+/g)) {
      if (!/[\\p{L}\\p{N}]/u.test(match[0])) continue;  // a separator ("·") is no word
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const word = range.getBoundingClientRect();
      if (!word.width && !word.height) continue;
      words += 1;
      lines.add(Math.round(word.top));
      if (word.left < box.left - 0.5 || word.right > box.right + 0.5) {
        const span = rect => `${rect.left.toFixed(1)} to ${rect.right.toFixed(1)}`;
        problems.push(`${cell.dataset.day}: "${match[0]}" spills out of its cell ` +
          `(${span(word)}, the cell ${span(box)})`);
      }
    }
    if (lines.size > 1 && words < 2 * lines.size) {
      problems.push(`${cell.dataset.day}: "${node.data.trim()}" wraps about one word a line ` +
        `(${words} words on ${lines.size} lines)`);
    }
  }
  return problems;
})
"""


@pytest.mark.parametrize("kind", ["phone", "ar-dark"])
def test_aggregated_month_totals_fit_their_cells_on_a_phone(
    open_page, live_server, seeded, aggregated, screenshot, kind
):
    """A 375 px month's cells are ~45 px wide: the totals read there, every word inside its cell,
    in English and in Arabic (right to left)."""
    page = signed_in_page(open_page, live_server, kind)
    if kind == "ar-dark":
        page.set_viewport_size({"width": 375, "height": 812})
    go(page, live_server, f"zone=UTC&q={TAG}")
    expect(region(page).locator(".cal-aggregated")).to_be_visible()
    cells = region(page).locator("table.cal-month td.cal-day")
    expect(cells.locator(".cal-summary").first).to_be_visible()
    problems = cells.evaluate_all(TOTALS_FIT_SCRIPT)
    assert problems == [], "totals that do not fit their cells:\n" + "\n".join(problems[:10])
    # Figures there, the failed one with its icon (not only red), the icons explained above;
    # the link's name is still the whole sentence.
    total = region(page).locator(f'td[data-day="{seeded["day"]}"] .cal-summary')
    expect(total.locator('[data-figure="failed"]')).to_have_text("✕1")
    expect(region(page).locator(".cal-key")).to_be_visible()
    sentence = "All jobs · .* · failed 1 · " if kind == "phone" else "كل المهام · .* · الفاشلة 1 · "
    expect(total).to_have_accessible_name(re.compile(sentence))
    assert_no_horizontal_scroll(page)
    settle(page)
    check_axe(page)
    screenshot(page, f"calendar-month-aggregated-{kind}-375")


# Each weekday header's shown text (not visually-hidden or hidden text, which is for assistive
# tech) against its own cell: text wider than a column runs into its neighbour's header.
HEADERS_FIT_SCRIPT = """
cells => cells.flatMap(cell => {
  const box = cell.getBoundingClientRect();
  const shown = element => {
    for (let at = element; at && at !== cell.parentElement; at = at.parentElement) {
      const style = getComputedStyle(at);
      const hidden = style.display === 'none' || style.visibility === 'hidden';
      if (hidden || style.clipPath !== 'none') return false;
    }
    return true;
  };
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  let left = Infinity, right = -Infinity, text = '';
  for (let node; (node = walker.nextNode()); ) {
    if (!node.data.trim() || !shown(node.parentElement)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rect = range.getBoundingClientRect();
    if (!rect.width) continue;
    left = Math.min(left, rect.left);
    right = Math.max(right, rect.right);
    text += node.data.trim() + ' ';
  }
  const span = (a, b) => `${a.toFixed(1)} to ${b.toFixed(1)}`;
  if (!text) return [`the header of ${cell.dataset.day || cell.cellIndex} shows no text`];
  if (left < box.left - 0.5 || right > box.right + 0.5) {
    return [`"${text.trim()}" runs out of its header (${span(left, right)}, ` +
      `the header ${span(box.left, box.right)})`];
  }
  return [];
})
"""


@pytest.mark.parametrize("kind", ["phone", "ar-dark"])
def test_weekday_headers_fit_their_columns_on_a_phone(
    open_page, live_server, seeded, screenshot, kind
):
    """A 375 px month's columns are ~45 px wide, a week's ~85 px: each weekday's name shows
    inside its own header, none running into the next ("الخميسالجمعة"), in English and Arabic;
    a screen reader still hears the whole name."""
    page = signed_in_page(open_page, live_server, kind)
    month, week = "table.cal-month thead th", "table.cal-week thead th[data-day]"
    problems = []
    # 481 px: the narrowest month that still shows the short names ("خميس"), not the letters.
    for width, view, headers in ((375, "month", month), (375, "week", week), (481, "month", month)):
        page.set_viewport_size({"width": width, "height": 812})
        go(page, live_server, f"view={view}&zone=UTC&date={seeded['day']}")
        cells = region(page).locator(headers)
        expect(cells).to_have_count(7)
        found = cells.evaluate_all(HEADERS_FIT_SCRIPT)
        problems += [f"{view} at {width} px: {problem}" for problem in found]
        assert_no_horizontal_scroll(page)
        settle(page)
        check_axe(page)
        screenshot(page, f"calendar-{view}-{kind}-{width}", full_page=False)
    assert problems == [], "weekday headers that do not fit:\n" + "\n".join(problems)
    # The whole name is what a screen reader says for a column.
    name = "Saturday" if kind == "phone" else "السبت"
    page.set_viewport_size({"width": 375, "height": 812})
    go(page, live_server, f"zone=UTC&date={seeded['day']}")
    expect(region(page).get_by_role("columnheader", name=name, exact=True)).to_have_count(1)
