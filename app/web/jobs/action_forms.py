"""Forms of the jobs table's actions: CSRF for every POST, and the pause form's two fields."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

from app.services.scheduling.bulk_jobs import BULK_ACTIONS


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A one-button action: only the CSRF token, where to go back, and a confirmation flag."""

    next = HiddenField()
    confirmed = HiddenField()


class PauseForm(ActionForm):
    """Pause with an optional reason and an optional time to resume (in the display zone)."""

    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])
    resume_at = DateTimeLocalField(
        _l("Resume at"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
    )

    def resume_at_utc(self, zone: str) -> datetime | None:
        """The resume time read as a wall time in ``zone``, as a UTC instant."""
        local: datetime | None = self.resume_at.data
        if local is None:
            return None
        return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


class BulkForm(ActionForm):
    """One action on ticked jobs (``ids``) or on every job matching the table's filters."""

    action = SelectField(choices=list(BULK_ACTIONS))
    all = HiddenField()
