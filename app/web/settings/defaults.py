"""``/settings/defaults`` (admins): what new jobs get for the fields their creator leaves out."""

from __future__ import annotations

from flask import request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as Answer

from app.extensions import db
from app.models import utcnow
from app.services import access
from app.services.errors import Invalid
from app.services.scheduling import defaults
from app.web.settings import bp
from app.web.settings.common import done, form_errors, show, translated
from app.web.settings.forms import DefaultsForm

PAGE, PARTIAL = "settings/defaults.html", "settings/_defaults.html"


def _values(form: DefaultsForm) -> dict[str, object]:
    """The form's values under the job fields' names."""
    return {name: form[name].data for name in defaults.FIELDS}


@bp.route("/settings/defaults", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def job_defaults() -> Answer:
    """Show the defaults, or save them (field errors shown next to the fields)."""
    access.require_admin(current_user, _("Only admins may change the defaults for new jobs."))
    if request.method == "GET":
        form = DefaultsForm(data=defaults.current(db.session))
        return show(PAGE, PARTIAL, form=form, errors={})
    form = DefaultsForm()
    errors = {} if form.validate() else form_errors(form)
    if not errors:
        try:
            defaults.save(db.session, current_user, _values(form), utcnow())
        except Invalid as error:
            db.session.rollback()
            errors = translated(error.fields)
    if errors:
        return show(PAGE, PARTIAL, 422, form=form, errors=errors)
    region = show(PAGE, PARTIAL, form=DefaultsForm(data=defaults.current(db.session)), errors={})
    return done(_("Defaults for new jobs saved."), url_for("settings.job_defaults"), region)
