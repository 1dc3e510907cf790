"""POST /preferences: language, display zone and theme, kept for the signed-in user."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.extensions import db
from app.services.users import accounts
from app.web import i18n
from app.web.forms import ZONE_OTHER, PreferencesForm
from app.web.redirects import safe_local_path

bp = Blueprint("preferences", __name__)


def _save(form: PreferencesForm) -> None:
    """Store only the fields this form sent (the language switch sends only ``lang``).

    The session applies them at once; a signed-in user keeps them for the next
    sign-in too. The browser's own zone belongs to the device (its cookie, see i18n).
    """
    changes: dict[str, str] = {}
    if form.lang.data:
        changes[i18n.LANG_KEY] = form.lang.data
    if form.theme.data:
        changes[i18n.THEME_KEY] = form.theme.data
    if form.zone.data:
        zone = form.zone_name.data.strip() if form.zone.data == ZONE_OTHER else form.zone.data
        changes[i18n.ZONE_KEY] = zone
    session.update(changes)
    if changes and current_user.is_authenticated:
        accounts.save_preferences(db.session, current_user, changes)


@bp.route("/preferences", methods=["POST"])
def save() -> Response:
    """Save the choices and go back where the user was (POST-redirect-GET; no JS needed)."""
    form = PreferencesForm()
    back = safe_local_path(form.next.data, url_for("jobs.index"))
    if form.validate_on_submit():
        _save(form)
        if form.silent.data:  # the own script saving a choice in the background (the theme)
            return Response(status=204)
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        if form.silent.data:
            return Response(status=400)
    return redirect(back, code=303)
