"""Language, display time zone and theme: chosen in the shell, used by every page.

Pages read the choices from the session; a signed-in user's choices are also
kept on the user (``User.preferences``) and put back into the session at each
sign-in. The browser's own zone belongs to the device: static/js/app.js writes
it into its own cookie, so no background request can race a sign-in and put
back the session it replaced. ``select_locale``/``select_timezone`` are
Flask-Babel's selectors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime
from flask import Flask, current_app, request, session
from flask_babel import format_timedelta, get_locale

from app.config import PROJECT_ROOT
from app.extensions import babel
from app.models import utcnow

LANGUAGES = ("en", "ar")
THEMES = ("light", "dark", "system")
BROWSER_ZONE = "browser"  # the zone the browser reports (in BROWSER_ZONE_COOKIE)
BROWSER_ZONE_COOKIE = "almanac_zone"  # written by static/js/app.js, never by the server
# Session keys: one place, so a later move to a user column is a local change.
LANG_KEY, ZONE_KEY, THEME_KEY = "lang", "zone", "theme"


def parse_zone(name: str) -> str | None:
    """The IANA zone ``name`` if it exists, else None (never raises)."""
    name = name.strip()
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def select_locale() -> str:
    """The session's language, else the best ``Accept-Language`` match, else English."""
    chosen = session.get(LANG_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(LANGUAGES) or "en"


def zone_choice() -> str:
    """What the user chose: ``browser`` (the default), ``UTC`` or an IANA zone name."""
    return str(session.get(ZONE_KEY) or BROWSER_ZONE)


def select_timezone() -> str:
    """The display zone: the chosen zone, or the browser's once it has been sent, else UTC."""
    choice = zone_choice()
    if choice == BROWSER_ZONE:
        choice = browser_zone() or "UTC"
    return parse_zone(choice) or "UTC"


def browser_zone() -> str | None:
    """The zone the browser reported in its cookie, if it is a real IANA zone."""
    return parse_zone(unquote(request.cookies.get(BROWSER_ZONE_COOKIE, "")))


def theme() -> str:
    """``light``, ``dark`` or ``system`` (follow ``prefers-color-scheme``)."""
    chosen = session.get(THEME_KEY)
    return str(chosen) if chosen in THEMES else "system"


def text_direction() -> str:
    """``rtl`` for Arabic, ``ltr`` otherwise (from CLDR, not a hand list)."""
    return str(Locale.parse(str(get_locale())).text_direction)


def _medium_pattern(locale: Locale) -> str:
    """The locale's medium date with its short time (no seconds: schedules are per minute)."""
    time_pattern = locale.time_formats["short"].pattern
    date_pattern = locale.date_formats["medium"].pattern
    return str(locale.datetime_formats["medium"]).format(time_pattern, date_pattern)


def format_instant(value: datetime | None) -> str:
    """A UTC instant in the display zone with its abbreviation (``Dec 4, 2026, 11:30 PM CET``).

    Digits: Arabic pages show Latin digits (0-9), not Arabic-Indic (U+0660-0669). Babel
    formats ``ar`` with the ``latn`` numbering system by default, cron
    expressions, ids and logs next to these times are Latin anyway, and the
    Maghreb and most technical software read Latin digits; one system keeps a
    time and its cron expression comparable at a glance.
    """
    if value is None:
        return ""
    zone = ZoneInfo(select_timezone())
    locale = get_locale() or Locale("en")
    text = format_datetime(value, _medium_pattern(locale), tzinfo=zone, locale=locale)
    return f"{text} {value.astimezone(zone).tzname()}"


def format_relative(value: datetime | None, now: datetime | None = None) -> str:
    """``in 5 minutes`` / ``3 hours ago`` in the page's language (Latin digits, as above)."""
    if value is None:
        return ""
    return str(format_timedelta(value - (now or utcnow()), add_direction=True))


def template_context() -> dict[str, Any]:
    """What base.html needs on every page: language, direction, theme, zone."""
    return {
        "page_lang": str(get_locale()),
        "page_dir": text_direction(),
        "page_theme": theme(),
        "display_zone": select_timezone(),
        "zone_choice": zone_choice(),
        "zone_detected": browser_zone() is not None,
        "zone_cookie": BROWSER_ZONE_COOKIE,
        "has_endpoint": has_endpoint,
    }


def has_endpoint(name: str) -> bool:
    """Whether a page is registered (the menu lists only pages that exist)."""
    return name in current_app.view_functions


def register(app: Flask) -> None:
    """Bind Flask-Babel with the selectors and add the Jinja helpers."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(PROJECT_ROOT / "translations"))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["instant"] = format_instant
    app.jinja_env.filters["relative"] = format_relative
    app.context_processor(template_context)
