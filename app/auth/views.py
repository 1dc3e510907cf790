"""Login and logout pages."""

from __future__ import annotations

import uuid

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.utils import login_url
from werkzeug.wrappers import Response

from app import htmx
from app.auth import bp
from app.auth.forms import LoginForm
from app.extensions import db, limiter, login_manager
from app.models import User
from app.services.users import accounts
from app.web.redirects import safe_local_path

login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to open this page.")


@login_manager.user_loader  # type: ignore[untyped-decorator]
def load_user(user_id: str) -> User | None:
    """Load the signed-in user, unless the session was ended since (sign-out elsewhere, etc.)."""
    try:
        user = db.session.get(User, uuid.UUID(user_id))
    except ValueError:
        return None
    if user is None or not accounts.session_is_current(user, session.get(_EPOCH_KEY)):
        return None
    return user


# The session cookie carries the user's session epoch from sign-in (see accounts.end_sessions).
_EPOCH_KEY = "_epoch"


def stamp_session(user: User) -> None:
    """Mark this browser's session as current for ``user`` (at sign-in, or after ending the
    user's other sessions from here, as a password change does)."""
    session[_EPOCH_KEY] = user.session_epoch


@login_manager.unauthorized_handler  # type: ignore[untyped-decorator]
def unauthorized() -> Response:
    """Send a signed-out visitor to the login page, and back here afterwards.

    An htmx request (a search after the session ended) must not swap the login
    page into a table: it gets a 401 whose ``HX-Redirect`` loads the page whole.
    """
    target = login_url("auth.login", next_url=request.url)
    if htmx.is_partial_request():
        response = Response(status=401)
        response.headers["HX-Redirect"] = target
        return response
    flash(str(login_manager.login_message), "info")
    return redirect(target)


def _login_limit() -> str:
    """The login rate limit, read at request time from config."""
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _safe_next(target: str | None) -> str:
    """Only follow a relative path on this site after login (no open redirect)."""
    return safe_local_path(target, url_for("jobs.index"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> str | Response:
    """Show the login form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("jobs.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = accounts.authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            db.session.commit()
            login_user(user)
            stamp_session(user)
            session.update(user.preferences or {})  # language, display zone, theme
            return redirect(_safe_next(form.next.data))
        flash(_("Wrong e-mail or password."), "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def logout() -> Response:
    """Sign out (POST, so a link elsewhere cannot sign you out); a copied cookie dies too."""
    user = db.session.get(User, current_user.id)
    if user is not None:
        accounts.end_sessions(user)
        db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))
