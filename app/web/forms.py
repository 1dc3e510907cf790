"""Forms of the web pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from app.web.i18n import BROWSER_ZONE, LANGUAGES, THEMES, parse_zone

ZONE_OTHER = "other"


class PreferencesForm(FlaskForm):  # type: ignore[misc]
    """Language, display zone and theme; every field optional (one form per switch)."""

    lang = SelectField(choices=list(LANGUAGES), validators=[Optional()])
    zone = SelectField(choices=[BROWSER_ZONE, "UTC", ZONE_OTHER], validators=[Optional()])
    zone_name = StringField(_l("Time zone (IANA name)"), validators=[Optional(), Length(max=64)])
    theme = SelectField(choices=list(THEMES), validators=[Optional()])
    next = HiddenField()
    silent = HiddenField()

    def validate_zone_name(self, field: StringField) -> None:
        """An "other" zone must be a real IANA zone."""
        if self.zone.data == ZONE_OTHER and parse_zone(field.data or "") is None:
            raise ValidationError(_l("Unknown time zone: use an IANA name such as Europe/Paris."))
