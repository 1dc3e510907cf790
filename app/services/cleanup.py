"""Deleting old execution history on request (admins only); the retention job runs it too."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.extensions import DbSession
from app.i18n import _
from app.models import User
from app.services import access, history, limits
from app.services.errors import Invalid


def cleanup_history(
    session: DbSession, user: User | None, older_than_days: int, now: datetime
) -> int:
    """Delete finished executions older than ``older_than_days`` days; returns how many.

    ``user`` None is the operator at the command line. It commits batch by
    batch (``history.purge_before``), so a large purge never holds locks for long.
    """
    if user is not None:
        access.require_admin(user, _("Only admins may delete history."))
    bounds = limits.HISTORY_DAYS
    # The operator's own retention setting may reach further back than a person's request.
    high = bounds.high if user is not None else older_than_days
    if not bounds.low <= older_than_days <= high:
        message = _("must be between {low} and {high}").format(low=bounds.low, high=bounds.high)
        raise Invalid(fields={"older_than_days": message})
    return history.purge_before(session, now - timedelta(days=older_than_days))
