"""One action on many jobs at once: chosen ones, or every job matching a filter.

Each job is judged on its own (may this user change it? does its state allow
the action?); the ones that pass are changed in one transaction and the rest
are reported with the reason, so a person can act on a page of jobs without
one odd job spoiling the lot. The number of jobs is capped.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.extensions import DbSession
from app.i18n import _
from app.models import Execution, ScheduledJob, TriggeredBy, User
from app.services import access
from app.services.effects import Notifier, commit_and_notify
from app.services.errors import Invalid, ServiceError
from app.services.ledger import runs
from app.services.ledger.recurrence import Recurrence
from app.services.scheduling import jobs

BULK_JOB_LIMIT = 500
BULK_ACTIONS = ("pause", "resume", "enable", "disable", "trigger", "delete")


@dataclass
class BulkOutcome:
    """What a bulk action did: jobs done, jobs skipped with why, runs started."""

    action: str
    done: list[uuid.UUID] = field(default_factory=list)
    skipped: dict[uuid.UUID, str] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    # More jobs matched the filter than the cap: act again for the rest.
    truncated: bool = False


@dataclass(frozen=True)
class BulkTarget:
    """Which jobs: chosen ids, or every job matching filters (exactly one of the two)."""

    job_ids: Sequence[uuid.UUID] | None = None
    filters: jobs.JobFilters | None = None


def apply_bulk(
    session: DbSession,
    user: User,
    action: str,
    target: BulkTarget,
    now: datetime,
    *,
    notifier: Notifier | None = None,
    recurrence: Recurrence | None = None,
    via: TriggeredBy = TriggeredBy.MANUAL,
    limit: int = BULK_JOB_LIMIT,
) -> BulkOutcome:
    """Apply ``action`` to every target job the user may change; commit, then notify."""
    if action not in BULK_ACTIONS:
        raise Invalid(fields={"action": _("must be one of {names}").format(names=BULK_ACTIONS)})
    access.require_writer(user, _("Viewers cannot change jobs."))
    outcome = BulkOutcome(action)
    targets = _targets(session, user, target, limit, outcome)
    if action == "trigger":
        _trigger_all(session, user, targets, now, recurrence, via, outcome)
        return outcome
    for job in targets:
        try:
            # Every refusal comes before the job is touched, so nothing half-done remains.
            jobs.change_state(session, user, job, action, now)
        except ServiceError as error:
            outcome.skipped[job.id] = error.message
        else:
            outcome.done.append(job.id)
    commit_and_notify(session, notifier, outcome.done)
    return outcome


def _targets(
    session: DbSession, user: User, target: BulkTarget, limit: int, outcome: BulkOutcome
) -> list[ScheduledJob]:
    """The visible jobs aimed at; chosen ids that are not visible are skipped as unknown."""
    if (target.job_ids is None) == (target.filters is None):
        raise Invalid(_("Choose jobs by id or by a filter, not both or neither."))
    if target.job_ids is not None:
        wanted = list(dict.fromkeys(target.job_ids))
        if len(wanted) > limit:
            message = _("at most {limit} jobs at once").format(limit=limit)
            raise Invalid(fields={"job_ids": message})
        query = access.visible_jobs(user).where(ScheduledJob.id.in_(wanted))
        found = {job.id: job for job in session.scalars(query)}
        for missing in (job_id for job_id in wanted if job_id not in found):
            outcome.skipped[missing] = _("No such job.")
        return [found[job_id] for job_id in wanted if job_id in found]
    assert target.filters is not None
    rows = jobs.matching_jobs(session, user, target.filters, limit + 1)
    outcome.truncated = len(rows) > limit
    return rows[:limit]


def _trigger_all(
    session: DbSession,
    user: User,
    targets: list[ScheduledJob],
    now: datetime,
    recurrence: Recurrence | None,
    via: TriggeredBy,
    outcome: BulkOutcome,
) -> None:
    """Run each job now; once Redis fails, the rest are skipped rather than recorded as failed."""
    for job in targets:
        try:
            access.require_job_change(user, job, _("Viewers cannot run jobs."))
            if recurrence is None:
                raise ServiceError(_("The queue (Redis) is not available."))
            outcome.executions.append(runs.trigger(session, recurrence, job, user, via, now))
            outcome.done.append(job.id)
        except ServiceError as error:
            outcome.skipped[job.id] = error.message
            if error.status != 403:
                recurrence = None


__all__ = ["BULK_ACTIONS", "BULK_JOB_LIMIT", "BulkOutcome", "BulkTarget", "apply_bulk"]
