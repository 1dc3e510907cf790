"""Languages: the Arabic catalogue is complete and compiled, locale and zone selection, formats."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale, ngettext

from app.web.i18n import BROWSER_ZONE_COOKIE, format_instant, format_relative
from tests.conftest import PASSWORD
from tests.test_auth import csrf_token, post_login

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "translations" / "ar" / "LC_MESSAGES"
ARABIC_INDIC_DIGITS = re.compile("[\u0660-\u0669\u06f0-\u06f9]")


def extracted(tmp_path: Path):
    """The catalogue ``pybabel extract`` builds from app/ and templates/ right now."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_l", "-o", str(pot), "app", "templates", "templates/_macros"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as handle:
        return read_po(handle)


def arabic():
    with (CATALOGUE / "messages.po").open("rb") as handle:
        return read_po(handle, locale="ar")


def catalogue_problems(template: Catalog, catalogue: Catalog) -> list[str]:
    """Every msgid of ``template`` that ``catalogue`` lacks, leaves empty or marks fuzzy."""
    problems = []
    for message in template:
        if not message.id:
            continue
        found = catalogue.get(message.id)
        if found is None:
            problems.append(f"missing: {message.id!r}")
        elif found.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif not all(found.string if isinstance(found.string, tuple) else [found.string]):
            problems.append(f"untranslated: {message.id!r}")
    return problems


def test_every_extracted_string_has_an_arabic_translation(tmp_path):
    template = extracted(tmp_path)
    assert len(template) > 50  # the extraction really ran over the templates and the code
    assert catalogue_problems(template, arabic()) == []


def test_the_catalogue_check_finds_missing_fuzzy_and_empty_strings():
    template = Catalog()
    for msgid in ("Kept", "Gone", "Guess", "Blank", ("One job", "Jobs")):
        template.add(msgid)
    catalogue = Catalog(locale="ar")
    catalogue.add("Kept", "محفوظ")
    catalogue.add("Guess", "تخمين", flags=["fuzzy"])
    catalogue.add("Blank", "")
    catalogue.add(("One job", "Jobs"), ("", "مهمة", "مهمتان", "مهام", "مهمة", "مهمة"))
    assert catalogue_problems(template, catalogue) == [
        "missing: 'Gone'",
        "fuzzy: 'Guess'",
        "untranslated: 'Blank'",
        "untranslated: ('One job', 'Jobs')",
    ]


def test_plural_strings_have_all_six_arabic_forms():
    catalogue = arabic()
    assert catalogue.num_plurals == 6
    plurals = [m for m in catalogue if m.id and m.pluralizable]
    assert plurals
    for message in plurals:
        assert len(message.string) == 6 and all(message.string), message.id


def _key(value):
    """Plural ids and strings come as lists from the .mo, tuples from the .po."""
    return tuple(value) if isinstance(value, list | tuple) else value


def test_compiled_catalogue_matches_its_po_file():
    """The .mo is committed; this fails when the .po changed without ``make translations``."""
    with (CATALOGUE / "messages.mo").open("rb") as handle:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(handle) if m.id}
    source = {_key(m.id): _key(m.string) for m in arabic() if m.id and not m.fuzzy}
    assert compiled == source


def test_arabic_uses_six_plural_categories(app):
    with app.test_request_context("/"), force_locale("ar"):
        forms = {n: ngettext("%(num)d job.", "%(num)d jobs.", n) for n in (0, 1, 2, 3, 11, 100)}
    assert len(set(forms.values())) == 6
    assert forms[1] == "مهمة واحدة."
    assert forms[3] == "3 مهام."
    assert forms[11] == "11 مهمة."


@pytest.mark.parametrize(
    ("accept", "lang", "direction"),
    [
        ("ar,en;q=0.5", "ar", "rtl"),
        ("ar-EG", "ar", "rtl"),
        ("fr, en;q=0.3", "en", "ltr"),
        ("", "en", "ltr"),
    ],
)
def test_language_follows_accept_language(client, accept, lang, direction):
    html = client.get("/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert f'<html lang="{lang}" dir="{direction}"' in html


def test_chosen_language_wins_over_accept_language(client):
    token = csrf_token(client)
    response = client.post(
        "/preferences", data={"csrf_token": token, "lang": "ar", "next": "/login"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    html = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl"' in html
    assert "تسجيل الدخول" in html


def test_flash_messages_are_translated(client, editor):
    client.post("/preferences", data={"csrf_token": csrf_token(client), "lang": "ar"})
    response = post_login(client, "editor@example.com", "wrong password")
    assert "البريد الإلكتروني أو كلمة المرور غير صحيحة." in response.get_data(as_text=True)


def test_error_page_is_translated(client):
    html = client.get("/nowhere", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    assert "الصفحة غير موجودة" in html


def test_preferences_save_theme_and_zone_and_refuse_unknown_zones(client):
    token = csrf_token(client)
    data = {"csrf_token": token, "theme": "dark", "zone": "other", "zone_name": "Asia/Tokyo"}
    client.post("/preferences", data=data | {"next": "/login"})
    html = client.get("/login").get_data(as_text=True)
    assert 'data-theme="dark"' in html
    assert "Asia/Tokyo" in html
    refused = client.post("/preferences", data=data | {"zone_name": "Mars/Olympus"})
    assert refused.status_code == 303
    page = client.get("/login").get_data(as_text=True)
    assert "Unknown time zone" in page
    assert 'value="Asia/Tokyo"' in page  # the earlier choice stands


def test_preferences_never_redirect_off_site(client):
    token = csrf_token(client)
    response = client.post("/preferences", data={"csrf_token": token, "next": "//evil.example"})
    assert response.headers["Location"] == "/"


def test_preferences_need_the_csrf_token(client):
    assert client.post("/preferences", data={"lang": "ar"}).status_code == 400


def test_browser_zone_comes_from_its_own_cookie_not_the_session(client):
    assert "data-detect-zone" in client.get("/login").get_data(as_text=True)
    client.set_cookie(BROWSER_ZONE_COOKIE, "Australia%2FSydney")  # as app.js writes it
    html = client.get("/login").get_data(as_text=True)
    assert "data-detect-zone" not in html
    assert "Australia/Sydney" in html


def test_a_bad_browser_zone_cookie_is_ignored(client):
    for bad in ("..%2Fetc%2Fpasswd", "Mars%2FOlympus", "x" * 100):
        client.set_cookie(BROWSER_ZONE_COOKIE, bad)
        html = client.get("/login").get_data(as_text=True)
        assert "data-detect-zone" in html
        assert "Now showing times in UTC." in html


def test_the_preferences_form_no_longer_takes_a_browser_zone(client):
    token = csrf_token(client)
    data = {"csrf_token": token, "browser_zone": "Australia/Sydney", "silent": "1"}
    assert client.post("/preferences", data=data).status_code == 204
    assert "data-detect-zone" in client.get("/login").get_data(as_text=True)


WINTER_NOON = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_instant_in_the_display_zone_with_its_abbreviation(app, client):
    with app.test_request_context("/"):
        from flask import session

        session["zone"] = "Europe/Paris"
        assert format_instant(WINTER_NOON) == "Jan 15, 2026, 1:00\u202fPM CET"
        session["zone"] = "UTC"
        assert format_instant(WINTER_NOON).endswith("12:00\u202fPM UTC")


def test_arabic_shows_latin_digits(app, client, editor, make_job):
    """The documented choice (app.web.i18n.format_instant): Latin, not Arabic-Indic, digits."""
    with app.test_request_context("/"), force_locale("ar"):
        text = format_instant(WINTER_NOON)
        relative = format_relative(WINTER_NOON + timedelta(minutes=5), now=WINTER_NOON)
    assert "2026" in text and "15" in text
    assert relative == "خلال 5 دقائق"
    assert not ARABIC_INDIC_DIGITS.search(text + relative)
    make_job(editor, name="Every five", schedule_config={"minutes": 5})
    client.post("/preferences", data={"csrf_token": csrf_token(client), "lang": "ar"})
    post_login(client, "editor@example.com", PASSWORD)
    html = client.get("/").get_data(as_text=True)
    assert "نشطة" in html and "مهمة واحدة." in html
    assert not ARABIC_INDIC_DIGITS.search(html)


def test_relative_time_in_english(app):
    with app.test_request_context("/"):
        assert (
            format_relative(WINTER_NOON + timedelta(minutes=5), now=WINTER_NOON) == "in 5 minutes"
        )
        assert format_relative(WINTER_NOON - timedelta(hours=3), now=WINTER_NOON) == "3 hours ago"
