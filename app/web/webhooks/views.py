"""``/settings/webhooks``: the list, the create and edit form, and one webhook's page with
its delivery log (which polls itself while a delivery is still on its way).

The service decides everything (``app.services.events``); this module maps its
snake_case error paths onto the form's fields, which share those names.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import flask
from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import htmx, signing
from app.extensions import db
from app.models import DeliveryStatus, Webhook, utcnow
from app.services import access
from app.services.errors import Invalid
from app.services.events import deliveries, webhooks
from app.web.jobs.helpers import shown
from app.web.webhooks import bp
from app.web.webhooks.forms import PHASES, SCOPE_ALL, WebhookForm, initial

PER_PAGE = 20
MAX_JOB_CHOICES = 500
# A delivery in one of these may still change: the log polls while it shows one.
UNSETTLED = {
    DeliveryStatus.PENDING.value,
    DeliveryStatus.QUEUED.value,
    DeliveryStatus.SENDING.value,
}
DELIVERY_STATUSES = tuple(status.value for status in DeliveryStatus)
PHASE_VALUES = tuple(value for value, _label in PHASES)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1


@dataclass(frozen=True)
class ListState:
    """The list's URL: phase and job filters and the page (the pager macro asks ``url_args``)."""

    phase: str = ""
    job: str = ""
    page: int = 1

    def url_args(self, **changes: Any) -> dict[str, Any]:
        """Query arguments for this state with ``changes``, defaults left out."""
        merged = {"phase": self.phase, "job": self.job, "page": self.page} | changes
        return {k: v for k, v in merged.items() if v not in ("", 1)}

    def filters(self) -> webhooks.WebhookFilters:
        """The service's filters for this state."""
        return webhooks.WebhookFilters(
            page=self.page,
            per_page=PER_PAGE,
            phase=self.phase or None,
            job_id=uuid.UUID(self.job) if self.job else None,
        )


def parse_list_state(args: Any) -> ListState:
    """Read the list's state from the query string; a bad value falls back to the default."""
    phase = args.get("phase", "")
    job = _uuid(args.get("job", ""))
    return ListState(
        phase=phase if phase in PHASE_VALUES else "",
        job=str(job) if job else "",
        page=_page_number(args.get("page")),
    )


@dataclass(frozen=True)
class LogState:
    """The delivery log's URL: which webhook, which page, which status."""

    webhook_id: uuid.UUID
    page: int = 1
    status: str = ""

    def url_args(self, **changes: Any) -> dict[str, Any]:
        """Arguments for ``url_for('webhooks.detail', …)`` with ``changes``, defaults left out."""
        merged = {"page": self.page, "status": self.status} | changes
        args = {k: v for k, v in merged.items() if v not in ("", 1)}
        return {"webhook_id": self.webhook_id} | args


def _pages(total: int | None) -> int:
    return max(1, -(-(total or 0) // PER_PAGE))


@bp.route("/settings/webhooks")
@login_required  # type: ignore[untyped-decorator]
def index() -> Response:
    """The webhooks this user may see, newest first; htmx pages swap only the list."""
    return _list_page(parse_list_state(request.args))


def _list_page(state: ListState, **context: Any) -> flask.Response:
    """The list page (or, for htmx, the list alone) in ``state``."""
    page = webhooks.list_webhooks(db.session, current_user, state.filters())
    chosen = {uuid.UUID(state.job)} if state.job else set()
    names = webhooks.job_names(
        db.session, {row.job_id for row in page.items if row.job_id} | chosen
    )
    template = "webhooks/_list.html" if not context else "webhooks/index.html"
    return htmx.render(
        "webhooks/index.html",
        template,
        state=state,
        result=page,
        pages=_pages(page.total),
        names=names,
        job_name=names.get(next(iter(chosen))) if chosen else None,
        phases=PHASES,
        **context,
    )


@dataclass
class Editor:
    """What the form template needs (``editor.errors`` feeds the shared field macros)."""

    form: WebhookForm
    webhook: Webhook | None = None
    errors: dict[str, str] = field(default_factory=dict)
    jobs: list[tuple[str, str]] = field(default_factory=list)
    jobs_cut: bool = False


def _editor(row: Webhook | None) -> Editor:
    """The form from the request (POST), the stored webhook, or ``?job=<id>`` for a new one."""
    if request.method == "POST":
        form = WebhookForm()
    elif row is not None:
        form = WebhookForm(data=initial(row))
    else:
        form = WebhookForm(data={"job_ids": [request.args.get("job", "")]})
    if not webhooks.may_cover_every_job(db.session, current_user):
        form.scope.choices = [choice for choice in form.scope.choices if choice[0] != SCOPE_ALL]
    rows = webhooks.job_choices(db.session, current_user, MAX_JOB_CHOICES + 1)
    choices = [(str(job.id), job.name) for job in rows[:MAX_JOB_CHOICES]]
    listed = {value for value, _label in choices}
    picked = {_uuid(raw or "") for raw in [form.job_id.data, *(form.job_ids.data or [])]}
    beyond = {job for job in picked if job and str(job) not in listed}  # past the cut
    names = webhooks.job_names(db.session, beyond)
    choices[:0] = [(str(job), names.get(job, str(job))) for job in sorted(beyond)]
    form.job_id.choices = [("", _("Choose a job…")), *choices]
    form.job_ids.choices = choices
    return Editor(form, row, jobs=choices, jobs_cut=len(rows) > MAX_JOB_CHOICES)


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def _save(editor: Editor) -> list[Webhook] | None:
    """Save through the service (new: one webhook per chosen job); on refusal fill
    ``editor.errors`` and write nothing."""
    form, many = editor.form, editor.webhook is None
    job_field = "job_ids" if many else "job_id"
    form.validate()
    editor.errors = {name: str(messages[0]) for name, messages in form.errors.items() if messages}
    chosen = form.chosen_jobs(many)
    if not chosen:
        editor.errors.setdefault(job_field, _("Choose the job, or every job."))
    if editor.errors:
        return None
    data, now = form.service_data(), utcnow()
    try:
        if editor.webhook is None:
            return webhooks.create_webhooks(db.session, current_user, data, chosen, now)
        data["job_id"] = chosen[0]
        return [webhooks.update_webhook(db.session, current_user, editor.webhook, data, now)]
    except Invalid as error:
        db.session.rollback()
        fields = {job_field if key == "job_id" else key: msg for key, msg in error.fields.items()}
        editor.errors = {key: shown(message) for key, message in fields.items()}
        editor.errors = editor.errors or {"form": shown(error.message)}
        return None


def _show_form(editor: Editor, status: int = 200) -> Response:
    """The form page, or only the form for htmx (errors re-render with 200 so htmx swaps)."""
    response = htmx.render(
        "webhooks/form.html",
        "webhooks/_form.html",
        editor=editor,
        form=editor.form,
        status_phases={phase.value for phase in webhooks.HTTP_STATUS_PHASES},
    )
    if not htmx.is_partial_request():
        response.status_code = status
    return response


def shown_secret(row: Webhook, created: bool) -> flask.Response:
    """The webhook's whole page with its secret, shown this once: never cached, and the answer
    to the POST itself (a redirect would have to carry the secret in the session cookie)."""
    title = _("Webhook created.") if created else _("New signing secret.")
    response = _detail(row, full=True, secret=row.secret, secret_title=title)
    response.headers["Cache-Control"] = "no-store"
    response.status_code = 201 if created else 200
    return response


@bp.route("/settings/webhooks/new", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def new() -> Response:
    """Add a webhook (``?job=<id>`` picks the job); the secret is shown once after saving."""
    access.require_writer(current_user, _("Viewers cannot change webhooks."))
    editor = _editor(None)
    if request.method == "GET":
        return _show_form(editor)
    rows = _save(editor)
    if rows is None:
        return _show_form(editor, 422)
    if len(rows) == 1:
        return shown_secret(rows[0], created=True)
    title = ngettext(
        "%(num)d webhook created, one per job.", "%(num)d webhooks created, one per job.", len(rows)
    )
    response = _list_page(ListState(), secret=rows[0].secret, secret_title=title)
    response.headers["Cache-Control"] = "no-store"
    response.status_code = 201
    return response


@bp.route("/settings/webhooks/<uuid:webhook_id>/edit", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def edit(webhook_id: uuid.UUID) -> Response:
    """Change a webhook (its secret stays; rotating it is its own action)."""
    row = webhooks.get_webhook(db.session, current_user, webhook_id)
    webhooks.require_change(db.session, current_user, row.job_id)
    editor = _editor(row)
    if request.method == "GET":
        return _show_form(editor)
    if _save(editor) is None:
        return _show_form(editor, 422)
    flash(_("Webhook saved."), "success")
    return redirect(url_for("webhooks.detail", webhook_id=row.id), code=303)


def _detail(
    row: Webhook, full: bool = False, page: int | None = None, **context: Any
) -> flask.Response:
    """The webhook's page, or (htmx, unless ``full``) only its delivery log."""
    status = request.args.get("status", "") if page is None else ""
    state = LogState(row.id, page or _page_number(request.args.get("page")), status)
    log = deliveries.list_deliveries(
        db.session, current_user, row, state.page, PER_PAGE,
        status if status in DELIVERY_STATUSES else None,
    )  # fmt: skip
    names = webhooks.job_names(db.session, {row.job_id} if row.job_id else set())
    context |= dict(
        hook=row,
        job_name=names.get(row.job_id) if row.job_id else None,
        secret_hint=signing.hint(row.secret),
        can_change=webhooks.may_change(db.session, current_user, row),
        log=log,
        state=state,
        pages=_pages(log.total),
        statuses=DELIVERY_STATUSES,
        polling=any(item.status in UNSETTLED for item in log.items),
    )
    if full:
        return make_response(render_template("webhooks/detail.html", **context))
    return htmx.render("webhooks/detail.html", "webhooks/_deliveries.html", live=True, **context)


def show_log(row: Webhook) -> flask.Response:
    """The delivery log's first page (after a ping or a replay: the new delivery is on top)."""
    return _detail(row, page=1)


@bp.route("/settings/webhooks/<uuid:webhook_id>")
@login_required  # type: ignore[untyped-decorator]
def detail(webhook_id: uuid.UUID) -> Response:
    """One webhook: its settings, its actions and its delivery log."""
    return _detail(webhooks.get_webhook(db.session, current_user, webhook_id))
