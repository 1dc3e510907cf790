"""``/runs``: every run, newest first, keyset-paged and filtered by the URL.

Rows of runs that have not ended refresh themselves: one poller asks for just
those rows every few seconds and swaps them out of band; once none is left
open it is rendered without its trigger and stops (STYLE 11).
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.models import Execution
from app.services.ledger import executions
from app.web.jobs.table import filter_choices
from app.web.runs import bp
from app.web.runs.filters import OUTCOMES, TRIGGER_LABELS, TRIGGERS, parse_runs
from app.web.runs.views import is_terminal

PER_PAGE = 50


def open_ids(runs: list[Execution]) -> str:
    """The ids of the shown runs that may still change, for the poller."""
    return ",".join(str(run.id) for run in runs if not is_terminal(run))


def _choices() -> dict[str, Any]:
    return {
        "tasks": filter_choices(current_user)["tasks"],
        "outcomes": OUTCOMES,
        "triggers": [(value, TRIGGER_LABELS.get(value, value)) for value in TRIGGERS],
    }


@bp.route("/runs")
@login_required  # type: ignore[untyped-decorator]
def index() -> Response:
    """Runs this user may see, filtered and keyset-paged by the URL."""
    given = request.args.to_dict()
    clean: dict[str, Any] = {key: value for key, value in given.items() if value}
    # A GET form sends its empty fields: show the URL without them.
    if clean != given and not htmx.is_partial_request():
        return redirect(url_for("runs.index", **clean))
    state = parse_runs(request.args)
    page = executions.list_executions_keyset(
        db.session, current_user, state.history_filters(), state.cursor or None, PER_PAGE
    )
    executions.load_jobs(db.session, page.items)
    response = htmx.render(
        "runs/index.html",
        "runs/_table.html",
        state=state,
        runs=page,
        polled=open_ids(page.items),
        choices=_choices(),
    )
    if clean != given:
        response.headers["HX-Push-Url"] = url_for("runs.index", **clean)
    return response


@bp.route("/runs/rows")
@login_required  # type: ignore[untyped-decorator]
def rows() -> Response:
    """The listed runs as they are now, swapped out of band; the poller with those still open."""
    runs = executions.get_many(
        db.session, current_user, htmx.polled_ids(request.args.get("ids", ""))
    )
    executions.load_jobs(db.session, runs)
    return htmx.render(
        "runs/_rows.html", "runs/_rows.html", live=True, runs=runs, polled=open_ids(runs)
    )
