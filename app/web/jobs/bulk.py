"""Bulk actions on the jobs table: ticked rows or every job matching the filter.

One plain form, with or without JS: the first POST shows a confirmation with
the count, the confirmed POST acts and returns to the same view of the table
with the outcome ("12 jobs paused; 2 skipped: The job is not paused.").
"""

from __future__ import annotations

import uuid
from collections import Counter

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.extensions import db
from app.models import utcnow
from app.queues import recurrence
from app.services import access
from app.services.scheduling import bulk_jobs, jobs
from app.services.scheduling.bulk_jobs import BulkOutcome, BulkTarget
from app.web.jobs import bp
from app.web.jobs.action_forms import BulkForm
from app.web.jobs.helpers import shown
from app.web.jobs.table import TableState, parse_state

ACTION_LABELS = {
    "pause": _l("Pause"),
    "resume": _l("Resume"),
    "enable": _l("Enable"),
    "disable": _l("Disable"),
    "trigger": _l("Run now"),
    "delete": _l("Delete"),
}


def _done_text(action: str, count: int) -> str:
    texts = {
        "pause": lambda: ngettext("%(num)d job paused", "%(num)d jobs paused", count),
        "resume": lambda: ngettext("%(num)d job resumed", "%(num)d jobs resumed", count),
        "enable": lambda: ngettext("%(num)d job enabled", "%(num)d jobs enabled", count),
        "disable": lambda: ngettext("%(num)d job disabled", "%(num)d jobs disabled", count),
        "trigger": lambda: ngettext("%(num)d run queued", "%(num)d runs queued", count),
        "delete": lambda: ngettext("%(num)d job deleted", "%(num)d jobs deleted", count),
    }
    return str(texts[action]())


def outcome_text(outcome: BulkOutcome) -> str:
    """What happened, with each reason for skipping and its count."""
    parts = [_done_text(outcome.action, len(outcome.done))]
    for reason, count in Counter(outcome.skipped.values()).items():
        parts.append(ngettext("%(num)d skipped: %(reason)s", "%(num)d skipped: %(reason)s",
                              count, reason=shown(reason)))  # fmt: skip
    if outcome.truncated:
        parts.append(
            _("More jobs matched than one action may change; apply it again for the rest.")
        )
    return "; ".join(parts)


def _chosen_ids() -> list[uuid.UUID] | None:
    """The ticked ids, or None when one is not an id (a tampered form)."""
    try:
        return [uuid.UUID(value) for value in request.form.getlist("ids")]
    except ValueError:
        return None


def _target(form: BulkForm, state: TableState) -> tuple[BulkTarget | None, int]:
    """The jobs aimed at and how many they are now (for the confirmation)."""
    if form.all.data == "1":
        count = jobs.list_jobs(db.session, current_user, state.filters(page=1, per_page=1)).total
        return BulkTarget(filters=state.filters(page=1)), count
    ids = _chosen_ids()
    if not ids:
        return None, 0
    return BulkTarget(job_ids=ids), len(set(ids))


@bp.route("/jobs/bulk", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def bulk() -> Response:
    """Confirm, then apply one action to the chosen jobs; back to the same table view."""
    access.require_writer(current_user, _("Viewers cannot change jobs."))
    form = BulkForm()
    state = parse_state(request.form, current_user)
    back = url_for("jobs.index", **state.url_args())
    if not form.validate_on_submit():
        flash(_("Choose one of the actions."), "error")
        return redirect(back, code=303)
    target, count = _target(form, state)
    if target is None or count == 0:
        flash(_("Tick at least one job, or choose all jobs matching the filter."), "error")
        return redirect(back, code=303)
    if form.confirmed.data != "1":
        page = render_template(
            "jobs/bulk_confirm.html", form=form, state=state, count=count, back=back,
            ids=request.form.getlist("ids"), label=ACTION_LABELS[form.action.data],
        )  # fmt: skip
        return make_response(page)
    outcome = bulk_jobs.apply_bulk(
        db.session, current_user, form.action.data, target, utcnow(),
        notifier=recurrence(), recurrence=recurrence(),
    )  # fmt: skip
    flash(outcome_text(outcome), "error" if outcome.skipped and not outcome.done else "success")
    return redirect(back, code=303)
