"""``/settings/tokens``: list, create (the token is shown once, in the answer to the POST)
and revoke (a confirm page without JS, the confirm dialog with it).

The token itself is never stored, so the page that shows it is the answer to
the POST, not a redirect: a redirect would have to carry it in the session cookie.
"""

from __future__ import annotations

import uuid
from typing import Any

import flask
from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.services import access
from app.services.errors import Invalid
from app.services.users import accounts
from app.web.jobs.action_forms import ActionForm
from app.web.jobs.helpers import shown
from app.web.tokens import bp
from app.web.tokens.forms import TokenForm

PAGE, PARTIAL = "tokens/index.html", "tokens/_tokens.html"


def _show(form: TokenForm, status: int = 200, **context: Any) -> flask.Response:
    """The page, or only the tokens region for htmx (which swaps only 2xx answers)."""
    response = htmx.render(
        PAGE,
        PARTIAL,
        form=form,
        tokens=accounts.visible_tokens(db.session, current_user),
        sees_all=access.sees_all_accounts(current_user),
        **context,
    )
    response.headers["Cache-Control"] = "no-store"  # a new token is in it: never cached
    if not htmx.is_partial_request():
        response.status_code = status
    return response


def _field_errors(form: TokenForm) -> dict[str, str]:
    return {name: str(messages[0]) for name, messages in form.errors.items() if messages}


@bp.route("/settings/tokens", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def index() -> Response:
    """The tokens and the form that makes one; a new token is shown once, in this answer."""
    if request.method == "GET":
        return _show(TokenForm(formdata=None))
    form = TokenForm()
    if not form.validate_on_submit():
        return _show(form, 422, errors=_field_errors(form))
    try:
        row, token = accounts.create_token(
            db.session, current_user, form.name.data or "", by=current_user
        )
    except Invalid as error:
        db.session.rollback()
        errors = {key: shown(message) for key, message in error.fields.items()}
        return _show(form, 422, errors=errors or {"name": shown(error.message)})
    return _show(TokenForm(formdata=None), 201, created=row, token=token)


@bp.route("/settings/tokens/<uuid:token_id>/revoke", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def revoke(token_id: uuid.UUID) -> Response:
    """Revoke after a confirmation: the confirm page without JS, the <dialog> with it."""
    row = accounts.get_token(db.session, current_user, token_id)
    form = ActionForm()
    if request.method == "GET" or not form.validate_on_submit() or form.confirmed.data != "1":
        return make_response(render_template("tokens/revoke.html", token=row, form=form))
    accounts.revoke_token(db.session, row.id, by=current_user)
    message = _("Token “%(name)s” revoked.", name=row.name)
    if htmx.is_partial_request():
        return htmx.add_toast(_show(TokenForm(formdata=None)), message, "success")
    flash(message, "success")
    return redirect(url_for("tokens.index"), code=303)
