"""``/failed``: the retry queue and dead runs, listed or grouped by error; one item's page."""

from __future__ import annotations

import uuid
from typing import Any

from flask import redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.models import FAILURE_STATUSES, User
from app.services.failures import groups, retry_queue
from app.web.failed import bp
from app.web.jobs.table import filter_choices
from app.web.runs.filters import (
    TRIGGER_LABELS,
    TRIGGERS,
    FailedState,
    parse_failed,
)

PER_PAGE = 20
STATUS_LABELS = (
    ("pending", _l("Waiting to retry")),
    ("claimed", _l("Retrying")),
    ("dead", _l("Dead")),
)


def region_context(user: User, state: FailedState) -> dict[str, Any]:
    """What the swappable region shows: a page of items, or the error groups, and the total."""
    grouped = state.view == "groups"
    filters = (
        state.retry_filters(page=1, per_page=1)
        if grouped
        else state.retry_filters(per_page=PER_PAGE)
    )  # grouped: the list query only counts
    page = retry_queue.list_items(db.session, user, filters)
    total = page.total or 0
    return {
        "state": state,
        "items": [] if grouped else page.items,
        "error_groups": groups.error_groups(db.session, user, filters) if grouped else [],
        "total": total,
        "pages": max(1, -(-total // PER_PAGE)),
        "choices": {
            "tasks": filter_choices(user)["tasks"],
            "outcomes": FAILURE_STATUSES,
            "triggers": [(value, TRIGGER_LABELS.get(value, value)) for value in TRIGGERS],
        },
    }


@bp.route("/failed")
@login_required  # type: ignore[untyped-decorator]
def index() -> Response:
    """Failed runs this user may see: a page of items, or their error groups."""
    given = request.args.to_dict()
    clean: dict[str, Any] = {key: value for key, value in given.items() if value}
    if clean != given and not htmx.is_partial_request():
        return redirect(url_for("failed.index", **clean))
    state = parse_failed(request.args)
    response = htmx.render(
        "failed/index.html",
        "failed/_region.html",
        statuses=STATUS_LABELS,
        **region_context(current_user, state),
    )
    if clean != given:
        response.headers["HX-Push-Url"] = url_for("failed.index", **clean)
    return response


@bp.route("/failed/<uuid:item_id>")
@login_required  # type: ignore[untyped-decorator]
def detail(item_id: uuid.UUID) -> Response:
    """One failed run: its error, traceback and every attempt with the backoff before the next."""
    item = retry_queue.get_item(db.session, current_user, item_id)
    return htmx.render(
        "failed/detail.html",
        "failed/detail.html",
        item=item,
        attempts=groups.attempts(db.session, current_user, item),
    )
