"""``/settings/profile``: one's own password, language, display time zone and theme.

Language, zone and theme post to ``/preferences`` (``app.web.preferences``), the
one place those choices are saved; this module changes the password.
"""

from __future__ import annotations

from flask import Response, current_app, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as Answer

from app.auth.views import stamp_session
from app.extensions import db, limiter
from app.services.users import accounts
from app.web.settings import bp
from app.web.settings.common import done, form_errors, show, translated
from app.web.settings.forms import PasswordForm

PAGE, PARTIAL = "settings/profile.html", "settings/_password.html"
# The service names the new password "password"; the form has two inputs for it.
_FIELDS = {"password": "new_password"}


def _page(form: PasswordForm, errors: dict[str, str], status: int = 200) -> Response:
    context = {"form": form, "errors": errors, "min_length": accounts.MIN_PASSWORD_LENGTH}
    return show(PAGE, PARTIAL, status, **context)


def _password_limit() -> str:
    """Guessing the current password here is held to the sign-in form's limit (config)."""
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@bp.route("/settings/profile", methods=["GET", "POST"])
@limiter.limit(_password_limit, methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def profile() -> Answer:
    """The profile page, or (POST) a password change that ends the user's other sessions."""
    form = PasswordForm()
    if request.method == "GET":
        return _page(form, {})
    errors = {} if form.validate() else form_errors(form)
    if not errors:
        try:
            accounts.change_password(
                db.session, current_user, form.current_password.data, form.new_password.data
            )
        except accounts.AccountError as error:
            db.session.rollback()
            errors = translated(error.fields, _FIELDS)
    if errors:
        return _page(form, errors, 422)
    stamp_session(current_user)  # this browser stays signed in; every other session ends
    message = _("Password changed. Your other sessions are signed out.")
    return done(message, url_for("settings.profile"), _page(PasswordForm(formdata=None), {}))
