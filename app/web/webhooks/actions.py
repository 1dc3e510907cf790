"""A webhook's actions: turn on or off, rotate the secret, delete, ping, replay a delivery.

Every action is a POST form. Ping and replay, with htmx, answer the delivery log
(which then polls until the delivery settles) and a toast; every action without
JS redirects back to the webhook's page with a flashed message. Rotating and
deleting are confirmed first (a page without JS, the confirm dialog with it).
"""

from __future__ import annotations

import uuid

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.models import Webhook, utcnow
from app.services.errors import Conflict
from app.services.events import deliveries, webhooks
from app.web.jobs.action_forms import ActionForm
from app.web.jobs.helpers import shown
from app.web.webhooks import bp
from app.web.webhooks.views import show_log, shown_secret

_RULE = "/settings/webhooks/<uuid:webhook_id>"


def _hook(webhook_id: uuid.UUID) -> Webhook:
    return webhooks.get_webhook(db.session, current_user, webhook_id)


def _back(row: Webhook, message: str, level: str = "success") -> Response:
    """htmx: the delivery log and a toast; otherwise the webhook's page with a flash."""
    if htmx.is_partial_request():
        return htmx.add_toast(show_log(row), message, level)
    flash(message, level)
    return redirect(url_for("webhooks.detail", webhook_id=row.id), code=303)


def _confirmed(form: ActionForm) -> bool:
    return request.method == "POST" and form.validate_on_submit() and form.confirmed.data == "1"


@bp.route(_RULE + "/<any(enable, disable):action>", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def turn(webhook_id: uuid.UUID, action: str) -> Response:
    """Turn a webhook on (events are sent) or off (none are)."""
    ActionForm().validate_on_submit()  # CSRF is checked before the view; this reads the form
    row = _hook(webhook_id)
    on = action == "enable"
    webhooks.update_webhook(db.session, current_user, row, {"is_active": on}, utcnow())
    return _back(row, _("Webhook turned on.") if on else _("Webhook turned off."))


@bp.route(_RULE + "/rotate", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def rotate(webhook_id: uuid.UUID) -> Response:
    """A new signing secret after a confirmation; the page shows it once."""
    row = _hook(webhook_id)
    webhooks.require_change(db.session, current_user, row.job_id)
    form = ActionForm()
    if not _confirmed(form):
        return make_response(render_template("webhooks/rotate.html", hook=row))
    return shown_secret(webhooks.rotate_secret(db.session, current_user, row, utcnow()), False)


@bp.route(_RULE + "/delete", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def delete(webhook_id: uuid.UUID) -> Response:
    """Delete a webhook and its delivery log after a confirmation."""
    row = _hook(webhook_id)
    webhooks.require_change(db.session, current_user, row.job_id)
    form = ActionForm()
    if not _confirmed(form):
        return make_response(render_template("webhooks/delete.html", hook=row))
    webhooks.delete_webhook(db.session, current_user, row)
    flash(_("Webhook deleted."), "success")
    if htmx.is_partial_request():  # confirmed in the dialog: load the list as a whole page
        response = make_response("")
        response.headers["HX-Redirect"] = url_for("webhooks.index")
        return response
    return redirect(url_for("webhooks.index"), code=303)


@bp.route(_RULE + "/ping", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def ping(webhook_id: uuid.UUID) -> Response:
    """Send a test event now; it appears at the top of the delivery log."""
    ActionForm().validate_on_submit()
    row = _hook(webhook_id)
    try:
        deliveries.ping(db.session, current_user, row, utcnow())
    except Conflict as error:
        db.session.rollback()
        return _back(row, shown(error.message), "error")
    return _back(row, _("Test event queued; its delivery shows below."))


@bp.route(_RULE + "/deliveries/<uuid:delivery_id>/replay", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def replay(webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> Response:
    """Send a delivery's event again, as a new delivery with the same event id."""
    ActionForm().validate_on_submit()
    row = _hook(webhook_id)
    try:
        deliveries.replay(db.session, current_user, row, delivery_id, utcnow())
    except Conflict as error:
        db.session.rollback()
        return _back(row, shown(error.message), "error")
    return _back(row, _("Event queued again; the new delivery shows below."))
