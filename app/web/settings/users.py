"""``/settings/users`` (admins): list, create, change role, disable or enable, reset password.

The services in ``accounts`` do the work and keep the rules: disabling ends the
user's sessions and revokes their tokens, and the last active admin stays one
(the refusal is shown, not an error page). New and reset passwords are
one-time passwords shown once, in the answer to the POST itself: never in a
redirect's flash message (the session cookie is signed, not encrypted).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as Answer

from app import htmx
from app.extensions import db
from app.models import User
from app.services import access
from app.services.errors import Invalid, ServiceError
from app.services.users import accounts
from app.web.settings import bp
from app.web.settings.common import done, form_errors, show, translated
from app.web.settings.forms import ROLES, ConfirmForm, NewUserForm, RoleForm

PAGE, PARTIAL = "settings/users.html", "settings/_users.html"


def _admin() -> None:
    access.require_admin(current_user, _("Only admins may manage other users."))


def _region(status: int = 200, **context: Any) -> Response:
    """The users page, or its region for htmx; never cached (it may hold a new password)."""
    context.setdefault("form", NewUserForm(formdata=None))
    context.setdefault("errors", {})
    users = accounts.list_users(db.session, current_user)
    response = show(PAGE, PARTIAL, status, users=users, roles=ROLES, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


def _back() -> str:
    return url_for("settings.users")


def _refused(error: ServiceError) -> Answer:
    """A change the service refused (the last admin, no such user): say why, change nothing."""
    db.session.rollback()
    message = _(error.message)
    if htmx.is_partial_request():
        return htmx.add_toast(_region(), message, "error")
    flash(message, "error")
    return redirect(_back(), code=303)


@bp.route("/settings/users", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def users() -> Answer:
    """Every account; POST creates one with a one-time password shown once."""
    _admin()
    if request.method == "GET":
        return _region()
    form = NewUserForm()
    errors = {} if form.validate() else form_errors(form)
    if errors:
        return _region(422, form=form, errors=errors)
    try:
        name = form.display_name.data or None
        user, password = accounts.invite_user(
            db.session, current_user, form.email.data, form.role.data, name
        )
    except Invalid as error:
        db.session.rollback()
        return _region(422, form=form, errors=translated(error.fields))
    response = _region(revealed=(user, password))
    return htmx.add_toast(response, _("User created."), "success")


@bp.route("/settings/users/<uuid:user_id>/role", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def change_role(user_id: uuid.UUID) -> Answer:
    """Give a user another role (their sessions end, so the new role applies at once)."""
    _admin()
    form = RoleForm()
    if not form.validate():
        return _refused(Invalid(_("Choose a role.")))
    try:
        user = accounts.change_role(db.session, current_user, user_id, form.role.data)
    except ServiceError as error:
        return _refused(error)
    message = _("%(email)s is now %(role)s.", email=user.email, role=_role_name(user.role))
    return done(message, _back(), _region())


def _role_name(role: str) -> str:
    names: dict[str, str] = {"admin": _("Admin"), "editor": _("Editor"), "viewer": _("Viewer")}
    return names.get(role, role)


def _confirm(user: User, kind: str) -> Response:
    """The confirm page of a disable or a password reset (without JS; with it, a dialog)."""
    return make_response(render_template("settings/user_confirm.html", subject=user, kind=kind))


@bp.route("/settings/users/<uuid:user_id>/disable", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def disable(user_id: uuid.UUID) -> Answer:
    """Disable after a confirmation: sign-in refused, sessions ended, tokens revoked."""
    _admin()
    form = ConfirmForm()
    if request.method == "GET" or not (form.validate() and form.confirmed.data == "1"):
        return _confirm(accounts.get_user(db.session, current_user, user_id), "disable")
    try:
        user = accounts.set_active(db.session, current_user, user_id, False)
    except ServiceError as error:
        return _refused(error)
    message = _("%(email)s is disabled: signed out everywhere, tokens revoked.", email=user.email)
    return done(message, _back(), _region())


@bp.route("/settings/users/<uuid:user_id>/enable", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def enable(user_id: uuid.UUID) -> Answer:
    """Let a disabled user sign in again (their revoked tokens stay revoked)."""
    _admin()
    try:
        user = accounts.set_active(db.session, current_user, user_id, True)
    except ServiceError as error:
        return _refused(error)
    return done(_("%(email)s may sign in again.", email=user.email), _back(), _region())


@bp.route("/settings/users/<uuid:user_id>/password", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def reset_password(user_id: uuid.UUID) -> Answer:
    """After a confirmation, a new one-time password, shown once; their sessions end."""
    _admin()
    form = ConfirmForm()
    if request.method == "GET" or not (form.validate() and form.confirmed.data == "1"):
        return _confirm(accounts.get_user(db.session, current_user, user_id), "password")
    try:
        user, password = accounts.reset_to_one_time(db.session, current_user, user_id)
    except ServiceError as error:
        return _refused(error)
    response = _region(revealed=(user, password))
    return htmx.add_toast(response, _("Password reset."), "success")
