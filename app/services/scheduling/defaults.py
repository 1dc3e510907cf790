"""Defaults for new jobs: chosen by an admin, filled into every create that leaves a field out.

``job_fields.normalize_fields`` applies them to each new job, so the API, the
form and the CLI all get them; the form also shows them as its starting values.
They are checked with the same limits table as the job fields themselves.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from app import timemath
from app.extensions import DbSession
from app.i18n import _
from app.models import DEFAULTS_ROW_ID, Backoff, JobDefaults, User
from app.services import access, audit_trail, limits
from app.services.errors import Invalid

NUMBERS = (
    "retry_count",
    "retry_delay_seconds",
    "retry_max_delay_seconds",
    "misfire_grace_seconds",
    "max_instances",
)
FIELDS = ("timezone", "retry_backoff", "queue", *NUMBERS)
# What a fresh install offers: the job columns' own defaults, so nothing changes until an
# admin chooses otherwise. An empty zone or queue means "not chosen" (see JobDefaults).
BUILT_IN: dict[str, Any] = {
    "timezone": None,
    "retry_count": 0,
    "retry_backoff": Backoff.EXPONENTIAL.value,
    "retry_delay_seconds": 60,
    "retry_max_delay_seconds": 3600,
    "misfire_grace_seconds": 60,
    "max_instances": 1,
    "queue": None,
}
AUDIT_ACTION = "job_defaults_updated"


def current(session: DbSession) -> dict[str, Any]:
    """Every default, chosen or built in (``None`` for an unchosen zone or queue)."""
    row = session.get(JobDefaults, DEFAULTS_ROW_ID)
    if row is None:
        return dict(BUILT_IN)
    return {name: getattr(row, name) for name in FIELDS}


def for_new_job(session: DbSession) -> dict[str, Any]:
    """The values a new job takes for fields it leaves out (unchosen ones are left out)."""
    return {name: value for name, value in current(session).items() if value is not None}


def save(session: DbSession, by: User, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Check and store the defaults (admins only), audit what changed, commit; returns them."""
    access.require_admin(by, _("Only admins may change the defaults for new jobs."))
    values = {name: data.get(name, BUILT_IN[name]) for name in FIELDS}
    for name in ("timezone", "queue"):
        if isinstance(values[name], str):
            values[name] = values[name].strip() or None
    _check(values)
    row = session.get(JobDefaults, DEFAULTS_ROW_ID) or JobDefaults(id=DEFAULTS_ROW_ID)
    before = {name: getattr(row, name, None) for name in FIELDS}
    changes = {
        name: {"from": before[name], "to": value}
        for name, value in values.items()
        if before[name] != value
    }
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_by, row.updated_at = by.id, now
    session.add(row)
    if changes:
        audit_trail.record(session, by, audit_trail.SETTINGS, None, AUDIT_ACTION, changes, now)
    session.commit()
    return values


def _check(values: dict[str, Any]) -> None:
    """The job fields' own rules (limits table, IANA zones, queue names), all errors at once."""
    errors: dict[str, str] = {}
    for name in NUMBERS:
        if problem := limits.number_problem(name, values[name]):
            errors[name] = problem
    if values["retry_backoff"] not in {item.value for item in Backoff}:
        errors["retry_backoff"] = _("must be one of fixed, linear, exponential")
    zone = values["timezone"]
    if zone is not None:
        try:
            timemath.parse_timezone(zone)
        except timemath.ScheduleError as error:
            errors["timezone"] = error.message
    queue = values["queue"]
    if queue is not None and not re.match(limits.QUEUE_PATTERN, queue):
        errors["queue"] = _("must be a queue name: lower-case letters, digits, - and _")
    if errors:
        raise Invalid(fields=errors)
