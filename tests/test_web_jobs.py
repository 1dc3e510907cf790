"""The jobs page: read-only table, search, sort, paging, partial for htmx, pages under CSP."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.models import utcnow
from tests.conftest import PASSWORD
from tests.test_auth import post_login

PARTIAL = {"HX-Request": "true"}


@pytest.fixture
def signed_in_editor(client, editor):
    post_login(client, "editor@example.com", PASSWORD)
    return editor


def names_in(html: str) -> list[str]:
    """Job names in table order (the row header cells)."""
    return re.findall(r'<th scope="row"[^>]*>(?:<a [^>]*>)?<bdi>([^<]+)</bdi>', html)


@pytest.mark.parametrize("path", ["/", "/jobs"])
def test_anonymous_user_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_htmx_request_after_sign_out_loads_the_login_page_whole(client):
    response = client.get("/?q=night", headers=PARTIAL)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    assert "q%3Dnight" in response.headers["HX-Redirect"]


def test_full_page_has_the_shell_the_search_form_and_the_table(client, signed_in_editor, make_job):
    make_job(signed_in_editor, name="Nightly report")
    response = client.get("/jobs")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "HX-Request" in response.vary
    assert html.startswith("<!doctype html>")
    assert 'class="skip-link" href="#main"' in html
    assert re.search(r'<form id="jobs-search"[^>]*method="get"', html)
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert names_in(html) == ["Nightly report"]
    assert 'aria-current="page"' in html


def test_htmx_request_gets_only_the_table(client, signed_in_editor, make_job):
    make_job(signed_in_editor, name="Nightly report")
    response = client.get("/jobs?q=night", headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert "HX-Request" in response.vary
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="jobs-table"')
    assert names_in(html) == ["Nightly report"]


def test_history_restore_gets_the_whole_page(client, signed_in_editor):
    headers = PARTIAL | {"HX-History-Restore-Request": "true"}
    assert "<html" in client.get("/jobs", headers=headers).get_data(as_text=True)


def test_search_filters_by_name_and_keeps_the_query_in_the_form(client, signed_in_editor, make_job):
    make_job(signed_in_editor, name="Nightly report")
    make_job(signed_in_editor, name="Hourly sync")
    html = client.get("/jobs?q=SYNC").get_data(as_text=True)
    assert names_in(html) == ["Hourly sync"]
    assert 'value="SYNC"' in html
    assert "1 job matches “<bdi>SYNC</bdi>”." in html


def test_search_text_is_escaped_in_the_count(client, signed_in_editor):
    html = client.get("/jobs", query_string={"q": "<b>x</b>"}).get_data(as_text=True)
    assert "<b>x</b>" not in html
    assert "“<bdi>&lt;b&gt;x&lt;/b&gt;</bdi>”" in html


def test_sort_by_name_descending_and_by_next_run(client, signed_in_editor, make_job):
    now = utcnow()
    make_job(signed_in_editor, name="a-late", now=now, schedule_config={"hours": 5})
    make_job(signed_in_editor, name="b-soon", now=now, schedule_config={"minutes": 1})
    assert names_in(client.get("/jobs?sort=-name").get_data(as_text=True)) == ["b-soon", "a-late"]
    assert names_in(client.get("/jobs?sort=next").get_data(as_text=True)) == ["b-soon", "a-late"]
    html = client.get("/jobs?sort=next").get_data(as_text=True)
    assert re.search(r'aria-sort="ascending">\s*<a class="sort" href="/\?sort=-next"', html)


def test_paging_keeps_search_and_sort_in_the_links(client, signed_in_editor, make_job):
    for number in range(23):
        make_job(signed_in_editor, name=f"job {number:02d}")
    first = client.get("/jobs?q=job&sort=-name").get_data(as_text=True)
    assert len(names_in(first)) == 20
    assert 'href="/?q=job&amp;sort=-name&amp;page=2"' in first
    second = client.get("/jobs?q=job&sort=-name&page=2").get_data(as_text=True)
    assert names_in(second) == ["job 02", "job 01", "job 00"]
    assert 'rel="prev"' in second


@pytest.mark.parametrize(
    "query", ["page=abc", "page=-3", "page=0", "page=99999999", "sort=owner", "q=" + "x" * 5000]
)
def test_bad_query_values_fall_back_to_defaults(client, signed_in_editor, make_job, query):
    make_job(signed_in_editor, name="Only")
    response = client.get(f"/jobs?{query}")
    assert response.status_code == 200


def test_editor_sees_only_their_own_jobs(client, signed_in_editor, outsider, make_job):
    make_job(signed_in_editor, name="Mine")
    make_job(outsider, name="Theirs")
    assert names_in(client.get("/").get_data(as_text=True)) == ["Mine"]


def test_row_shows_schedule_ltr_zone_next_run_and_status(client, signed_in_editor, make_job):
    # Due in about three hours whenever the test runs: a fixed time of day would be nearly a
    # day away at some hours, which reads "in 1 day" rather than in hours.
    soon = utcnow().astimezone(ZoneInfo("Europe/Berlin")) + timedelta(hours=3)
    expression = f"{soon.minute} {soon.hour} * * *"
    make_job(
        signed_in_editor,
        name="Cron one",
        job_type="cron",
        schedule_config={"expression": expression},
        timezone="Europe/Berlin",
    )
    html = client.get("/").get_data(as_text=True)
    assert f'<bdi dir="ltr" class="ltr">{expression}</bdi>' in html
    assert '<bdi dir="ltr" class="ltr">Europe/Berlin</bdi>' in html
    assert re.search(r"<time datetime=\"[^\"]+\"[^>]*>in \d+ (hours?|minutes?)</time>", html)
    badge = r'data-status="active"><svg class="icon"[^>]*aria-hidden="true"[^>]*>.*?</svg>Active'
    assert re.search(badge, html)


def test_interval_schedule_shows_its_units(client, signed_in_editor, make_job):
    make_job(signed_in_editor, name="Often", schedule_config={"minutes": 5})
    assert '<bdi dir="ltr" class="ltr">minutes=5</bdi>' in client.get("/").get_data(as_text=True)


def test_empty_state_without_jobs_and_without_matches(client, signed_in_editor, make_job):
    assert "No jobs yet." in client.get("/").get_data(as_text=True)
    make_job(signed_in_editor, name="Only")
    html = client.get("/?q=zzz").get_data(as_text=True)
    assert "No job matches this search." in html
    assert "0 jobs match" in html


def test_next_run_is_shown_in_the_display_zone_with_its_abbreviation(
    client, signed_in_editor, make_job
):
    make_job(signed_in_editor, name="Often", schedule_config={"minutes": 5})
    with client.session_transaction() as session:
        session["zone"] = "America/New_York"
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'class="when-abs">[^<]+ E[SD]T</span>', html)


_INLINE = [
    (r"<script(?![^>]*\bsrc=)[^>]*>", "inline script"),
    (r"\sstyle=", "style attribute"),
    (r"<style", "style element"),
    (r"\son[a-z]+=", "on* handler"),
    (r"javascript:", "javascript: URL"),
]


@pytest.mark.parametrize("path", ["/", "/?q=none", "/login", "/no-such-page"])
def test_pages_have_no_inline_script_or_style_for_the_csp(client, signed_in_editor, make_job, path):
    make_job(signed_in_editor, name="Job")
    html = client.get(path).get_data(as_text=True)
    for pattern, what in _INLINE:
        assert not re.search(pattern, html), f"{what} on {path}"


def test_every_template_is_free_of_inline_code():
    for template in Path("templates").rglob("*.html"):
        text = template.read_text()
        for pattern, what in _INLINE:
            assert not re.search(pattern, text), f"{what} in {template}"
