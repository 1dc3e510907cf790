"""Retry now or discard on the failed-tasks page: ticked rows, one error group, or all matching.

One plain form, with or without JS: the first POST answers a confirmation with
the count (a page, or with htmx the body of the page's ``<dialog>``); the
confirmed POST acts and returns to the same view with the outcome ("312 queued
for retry, 3 were already retried or discarded").
"""

from __future__ import annotations

import dataclasses
import uuid

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.models import utcnow
from app.queues import recurrence
from app.services import access
from app.services.failures import retry_queue
from app.services.failures.filters import MAX_IDS, RetryFilters
from app.services.failures.retry_queue import BulkOutcome
from app.web.failed import bp
from app.web.failed.forms import FailedBulkForm
from app.web.jobs.helpers import shown
from app.web.runs.filters import FailedState, parse_failed

ACTION_LABELS = {"trigger": _l("Retry now"), "discard": _l("Discard")}


def outcome_text(outcome: BulkOutcome) -> str:
    """What happened, with what was left alone and why."""
    if outcome.action == "discard":
        parts = [ngettext("%(num)d discarded", "%(num)d discarded", outcome.done)]
    else:
        parts = [ngettext("%(num)d queued for retry", "%(num)d queued for retry", outcome.done)]
    if outcome.already:
        already = ngettext(
            "%(num)d was already retried or discarded",
            "%(num)d were already retried or discarded",
            outcome.already,
        )
        parts.append(already)
    if outcome.not_allowed:
        refused = ngettext(
            "%(num)d left alone: you may not change its job",
            "%(num)d left alone: you may not change their jobs",
            outcome.not_allowed,
        )
        parts.append(refused)
    if outcome.truncated:
        parts.append(_("more matched than one action may change; apply it again for the rest"))
    if not outcome.retried.queued:
        parts.append(shown(outcome.retried.message))
    return ", ".join(parts)


def _ticked() -> list[uuid.UUID] | None:
    """The ticked ids (at most MAX_IDS), or None when one is not an id (a tampered form)."""
    try:
        return list(dict.fromkeys(uuid.UUID(v) for v in request.form.getlist("ids")))[:MAX_IDS]
    except ValueError:
        return None


def _target(form: FailedBulkForm, state: FailedState) -> tuple[RetryFilters | None, int]:
    """The items aimed at and how many match now (for the confirmation)."""
    if form.all.data == "1" or form.target_group.data:
        filters = state.retry_filters(page=1, per_page=1)
        if form.target_group.data:
            group = form.target_group.data.replace("\x00", "")[:255]
            filters = dataclasses.replace(filters, group=group)
        count = retry_queue.list_items(db.session, current_user, filters).total or 0
        return filters, count
    ids = _ticked()
    if not ids:
        return None, 0
    return RetryFilters(ids=tuple(ids)), len(ids)


def _refused(message: str, back: str) -> Response:
    """Nothing to act on: said in the dialog (htmx), or flashed on the list."""
    if htmx.is_partial_request():
        page = htmx.render("failed/_confirm.html", "failed/_confirm.html", error=message,
                           in_dialog=True, back=back)  # fmt: skip
        return htmx.add_toast(page, message, "error")
    flash(message, "error")
    return redirect(back, code=303)


@bp.route("/failed/bulk", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def bulk() -> Response:
    """Confirm with the count, then retry or discard; back to the same view with the outcome."""
    access.require_writer(current_user, _("Viewers cannot retry or discard runs."))
    form = FailedBulkForm()
    state = parse_failed(request.form)
    back = url_for("failed.index", **state.url_args())
    filters, count = _target(form, state) if form.validate_on_submit() else (None, -1)
    if filters is None or count <= 0:
        return _refused(
            _("Choose one of the actions.")
            if count < 0
            else _("Tick at least one failed run, or choose all matching the filter."),
            back,
        )
    if form.confirmed.data != "1":
        return htmx.render(
            "failed/confirm.html", "failed/_confirm.html", form=form, state=state, count=count,
            back=back, ids=request.form.getlist("ids")[:MAX_IDS],
            label=ACTION_LABELS[form.action.data], in_dialog=htmx.is_partial_request(),
        )  # fmt: skip
    outcome = retry_queue.apply_bulk(
        db.session, current_user, form.action.data, filters, utcnow(), recurrence()
    )
    flash(outcome_text(outcome), "success" if outcome.done else "error")
    return redirect(back, code=303)
