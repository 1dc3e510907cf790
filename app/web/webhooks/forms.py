"""The webhook form: shape only (required, lengths, the status pattern); the service judges
the rest (which phases take a status, the URL's destination, which jobs this user may use)."""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from app.models import Webhook, WebhookPhase

# The same shape as the API's StatusCode (app/api/ops_schemas.py): 503, or a class such as 5xx.
STATUS_PATTERN = r"^[1-5]([0-9]{2}|xx)$"
SCOPE_ALL, SCOPE_JOB = "all", "job"
PHASES = [
    (WebhookPhase.STARTED.value, _l("Started")),
    (WebhookPhase.SUCCEEDED.value, _l("Succeeded")),
    (WebhookPhase.FAILED.value, _l("Failed")),
    (WebhookPhase.TIMEOUT.value, _l("Timed out")),
    (WebhookPhase.RETRYING.value, _l("Retrying")),
    (WebhookPhase.DEAD.value, _l("Dead (out of retries)")),
    (WebhookPhase.SKIPPED.value, _l("Skipped")),
    (WebhookPhase.MISSED.value, _l("Missed")),
]


class WebhookForm(FlaskForm):  # type: ignore[misc]
    """Create or edit a webhook; field names are the service's snake_case paths."""

    url = StringField(
        _l("URL"),
        validators=[InputRequired(_l("Enter the URL to send events to.")), Length(max=2048)],
    )
    phase = RadioField(_l("Phase"), choices=PHASES, default=WebhookPhase.FAILED.value)
    status_code = StringField(
        _l("HTTP status match"),
        validators=[
            Optional(),
            Regexp(STATUS_PATTERN, message=_l("Use a status such as 503 or a class such as 5xx.")),
        ],
    )
    scope = RadioField(
        _l("Applies to"),
        choices=[(SCOPE_JOB, _l("One job")), (SCOPE_ALL, _l("Every job"))],
        default=SCOPE_JOB,
    )
    job_id = SelectField(_l("Job"), validators=[Optional()], validate_choice=False)  # edit
    job_ids = SelectMultipleField(  # new: one webhook per chosen job
        _l("Jobs"), validators=[Optional()], validate_choice=False
    )
    description = StringField(_l("Description"), validators=[Optional(), Length(max=500)])
    is_active = BooleanField(_l("Turned on (events are sent)"), default=True)

    def service_data(self) -> dict[str, Any]:
        """The fields as the service takes them, but the job (``chosen_jobs``)."""
        return {
            "url": (self.url.data or "").strip(),
            "phase": self.phase.data,
            "status_code": (self.status_code.data or "").strip() or None,
            "description": (self.description.data or "").strip() or None,
            "is_active": bool(self.is_active.data),
        }

    def chosen_jobs(self, many: bool) -> list[uuid.UUID | None]:
        """The jobs picked (``job_ids`` when ``many``, else ``job_id``); ``[None]``: every job."""
        if self.scope.data == SCOPE_ALL:
            return [None]
        raw = (self.job_ids.data or []) if many else [self.job_id.data or ""]
        return [job for job in (_uuid(value) for value in raw) if job]


def initial(row: Webhook) -> dict[str, Any]:
    """A stored webhook as the form's data."""
    return {
        "url": row.url,
        "phase": row.phase,
        "status_code": row.status_code or "",
        "scope": SCOPE_ALL if row.job_id is None else SCOPE_JOB,
        "job_id": str(row.job_id) if row.job_id else "",
        "description": row.description or "",
        "is_active": row.is_active,
    }


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None
