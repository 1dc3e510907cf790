"""The misfire policy's choices: which missed slots still run, and how the miss is announced."""

from __future__ import annotations

from datetime import datetime

from app.extensions import DbSession
from app.models import Execution, MisfirePolicy, ScheduledJob, WebhookPhase
from app.services.events import webhooks

# Missed slots are recorded one row each, up to this many per catch-up.
MAX_MISSED_ROWS = 10_000
# run_all runs at most this many missed slots (the latest); the rest are recorded missed.
# The scheduler passes MISFIRE_RUN_ALL_CAP from its config; this is the default.
DEFAULT_RUN_ALL_CAP = 100


def slots_to_run(
    job: ScheduledJob, slots: list[datetime], run_all_cap: int = DEFAULT_RUN_ALL_CAP
) -> list[datetime]:
    """Which missed slots still run: none, the latest, or the latest ``run_all_cap``."""
    policy = MisfirePolicy(job.misfire_policy)
    if policy == MisfirePolicy.SKIP:
        return []
    if policy == MisfirePolicy.RUN_ONCE:
        return slots[-1:]
    return slots[-run_all_cap:]


def announce_missed(session: DbSession, missed: list[Execution], now: datetime) -> None:
    """One ``missed`` event per catch-up, not one per slot: an outage may miss thousands."""
    if not missed:
        return
    first, last = missed[0].scheduled_for, missed[-1].scheduled_for
    assert first is not None and last is not None
    extra = {
        "missed": {
            "count": len(missed),
            "first": first.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "last": last.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    }
    webhooks.emit(session, WebhookPhase.MISSED, missed[0], now, extra=extra)
