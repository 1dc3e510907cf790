"""``/calendar``: the month, week, day or list view; the whole page, or (htmx) its region."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from flask import current_app, redirect, request, session, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.models import utcnow
from app.services.calendar import subscription
from app.services.calendar.entries import Aggregation, calendar_window, queue_names
from app.services.calendar.window import step, window_for
from app.web.calendar import bp, grid
from app.web.calendar.feed import NEW_FEED_KEY, feed_url
from app.web.calendar.state import DENSE_AFTER, CalendarState, parse_state
from app.web.i18n import parse_zone, select_timezone
from app.web.jobs.schedule_words import schedule_words
from app.web.jobs.table import filter_choices


@bp.route("/calendar")
@login_required  # type: ignore[untyped-decorator]
def index() -> Response:
    """The calendar for the view, date, zone and filters in the URL."""
    given = request.args.to_dict()
    clean: dict[str, Any] = {key: value for key, value in given.items() if value}
    # A GET form sends its empty fields: show the URL without them.
    if clean != given and not htmx.is_partial_request():
        return redirect(url_for("calendar.index", **clean))
    now = utcnow()
    zone_name = parse_zone_arg(given.get("zone"))
    today = now.astimezone(ZoneInfo(zone_name)).date()
    state = parse_state(request.args, current_user, today)
    locale = get_locale() or Locale("en")
    window = window_for(state.view, state.day, ZoneInfo(zone_name), grid.first_weekday(locale))
    aggregation = Aggregation(
        int(current_app.config["CALENDAR_AGGREGATE_AFTER"]), by_hour=state.view in ("week", "day")
    )
    data = calendar_window(
        db.session, current_user, window, state.filters(), now, DENSE_AFTER[state.view], aggregation
    )
    response = htmx.render(
        "calendar/index.html",
        "calendar/_region.html",
        state=state,
        data=data,
        aggregation=aggregation,
        layout=grid.layout(data, locale),
        nav=_nav(state, today.isoformat()),
        zone_name=zone_name,
        locale=locale,
        grid=grid,
        today=today,
        schedule_words=schedule_words,
        **_page_context(),
    )
    if clean != given:
        response.headers["HX-Push-Url"] = url_for("calendar.index", **clean)
    return response


def _page_context() -> dict[str, Any]:
    """Filter choices, and (whole page only) the subscription box with a new address once."""
    context: dict[str, Any] = {
        "choices": filter_choices(current_user) | {"queues": queue_names(db.session, current_user)}
    }
    if not htmx.is_partial_request():
        context["feed"] = subscription.active_feed(db.session, current_user)
        new_token = session.pop(NEW_FEED_KEY, None)
        context["new_feed_url"] = feed_url(new_token) if new_token else None
    return context


def parse_zone_arg(raw: str | None) -> str:
    """The zone in the URL if any (checked by ``parse_state``), else the shell's display zone."""
    return (parse_zone(raw) if raw else None) or select_timezone()


def _nav(state: CalendarState, today: str) -> dict[str, Any]:
    """Previous, next and today links' arguments."""
    return {
        "prev": state.url_args(date=step(state.view, state.day, False).isoformat()),
        "next": state.url_args(date=step(state.view, state.day, True).isoformat()),
        "today": state.url_args(date=today),
    }
