"""``/runs/<id>``: one run; while it is not finished, its status and log tail poll themselves.

With htmx and ``?sheet=1`` (the calendar's side sheet) it answers the run's summary instead.
"""

from __future__ import annotations

import uuid

from flask import Response, request
from flask_login import current_user, login_required

from app import htmx
from app.extensions import db
from app.models import Execution, ExecutionStatus
from app.services.events import deliveries
from app.services.ledger import executions
from app.web.jobs.args import hide_sensitive
from app.web.runs import bp

LOG_TAIL = 20_000  # characters of the log the page shows (the end: that is where it moves)


def is_terminal(run: Execution) -> bool:
    """The run can change no more (the live region then stops polling by omission)."""
    try:
        return ExecutionStatus(run.status).is_terminal
    except ValueError:
        return True


def log_tail(run: Execution) -> tuple[str, bool]:
    """The end of the log and whether the start was cut off."""
    text = run.log_output or ""
    return text[-LOG_TAIL:], len(text) > LOG_TAIL


@bp.route("/runs/<uuid:run_id>")
@login_required  # type: ignore[untyped-decorator]
def detail(run_id: uuid.UUID) -> Response:
    """The run's page; with htmx its live region (a poll) or, asked for the sheet, its summary."""
    run = executions.get_execution(db.session, current_user, run_id)
    tail, cut = log_tail(run)
    context = {"run": run, "terminal": is_terminal(run), "tail": tail, "cut": cut}
    if htmx.is_partial_request():
        partial = "runs/_sheet.html" if request.args.get("sheet") else "runs/_live.html"
        return htmx.render("runs/detail.html", partial, live=True, **context)
    previous = (
        executions.get_execution(db.session, current_user, run.retry_of) if run.retry_of else None
    )
    schema = run.job.task_function.args_schema or {}
    return htmx.render(
        "runs/detail.html",
        "runs/_live.html",
        live=True,
        previous=previous,
        following=executions.next_attempt(db.session, current_user, run),
        deliveries=deliveries.of_execution(db.session, current_user, run.id),
        shown_args=hide_sensitive(run.job.task_args, schema),
        **context,
    )
