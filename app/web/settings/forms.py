"""Forms of the settings pages: shape only (types, required); the services judge the values."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from app.web.jobs.forms import BACKOFF

ROLES = [("viewer", _l("Viewer")), ("editor", _l("Editor")), ("admin", _l("Admin"))]


class PasswordForm(FlaskForm):  # type: ignore[misc]
    """Change one's own password: the current one, and the new one twice."""

    current_password = PasswordField(_l("Current password"), validators=[InputRequired()])
    new_password = PasswordField(_l("New password"), validators=[InputRequired()])
    confirm_password = PasswordField(
        _l("New password again"),
        validators=[InputRequired(), EqualTo("new_password", _l("The two new passwords differ."))],
    )


class NewUserForm(FlaskForm):  # type: ignore[misc]
    """A new account; its one-time password is made by the server and shown once."""

    email = EmailField(_l("E-mail"), validators=[InputRequired(), Length(max=254)])
    display_name = StringField(_l("Name (optional)"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLES, default="viewer")


class RoleForm(FlaskForm):  # type: ignore[misc]
    """Give a user another role."""

    role = SelectField(_l("Role"), choices=ROLES)


class ConfirmForm(FlaskForm):  # type: ignore[misc]
    """A one-button action; ``confirmed`` is set by the confirm dialog or the confirm page."""

    confirmed = HiddenField()


def _number(label: object) -> IntegerField:
    return IntegerField(label, validators=[InputRequired()])


class DefaultsForm(FlaskForm):  # type: ignore[misc]
    """Defaults for new jobs; the names are the job fields' (so service errors map 1:1)."""

    timezone = StringField(_l("Time zone"), validators=[Optional(), Length(max=64)])
    retry_count = _number(_l("Retries"))
    retry_backoff = SelectField(_l("Backoff"), choices=BACKOFF)
    retry_delay_seconds = _number(_l("Retry delay (seconds)"))
    retry_max_delay_seconds = _number(_l("Max retry delay (seconds)"))
    misfire_grace_seconds = _number(_l("Grace (seconds)"))
    max_instances = _number(_l("Max parallel runs"))
    queue = StringField(_l("Queue"), validators=[Optional(), Length(max=50)])
