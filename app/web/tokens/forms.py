"""The form that names a new API token (the service checks the name's length too)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length


class TokenForm(FlaskForm):  # type: ignore[misc]
    """What the token is for: its name, 1 to 100 characters."""

    name = StringField(
        _l("Name"),
        validators=[InputRequired(_l("Give the token a name.")), Length(max=100)],
    )
