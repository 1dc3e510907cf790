"""The retry table: claiming due items, turning them into new attempts, and manual control.

An item goes ``pending`` → ``claimed`` (one retry process took it, committed)
→ ``done`` (its new Execution exists, committed together). The RQ enqueue
follows the commit; should it be lost, reconcile re-enqueues queued runs RQ
forgot. A process that dies between claim and launch leaves a claim that
``reclaim_stale`` hands back after the claim timeout. A new attempt's row is
unique per failed execution (``uq_executions_retry_of``), so even a broken
claim could never start one failure's retry twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import aliased, joinedload, lazyload

from app.extensions import DbSession
from app.i18n import N_, _
from app.models import (
    Execution,
    ExecutionStatus,
    RetryItem,
    RetryStatus,
    ScheduledJob,
    TaskFunction,
    TriggeredBy,
    User,
)
from app.services import access
from app.services.effects import enqueue
from app.services.errors import Conflict
from app.services.failures import retries
from app.services.failures.filters import RetryFilters, filtered, get_item, list_items
from app.services.ledger import claims, overlap
from app.services.ledger.recurrence import Arm, Recurrence, rq_job_id

# Items a person may still retry or discard.
OPEN = (RetryStatus.PENDING.value, RetryStatus.DEAD.value)
BULK_LIMIT = 10_000


def claim_due(session: DbSession, claimer: str, now: datetime, limit: int) -> list[uuid.UUID]:
    """Claim up to ``limit`` due items of active jobs with a free instance, oldest first.

    A retry attempt must never meet the overlap rule's skip, so it waits here
    until its job has a free instance: one item per job at a time (the oldest),
    none while the job already has one launching, and only if the job's runs
    queued, running or held number fewer than its ``max_instances``. The caller
    commits.
    """
    due = (
        select(RetryItem.id)
        .join(ScheduledJob, ScheduledJob.id == RetryItem.job_id)
        .where(RetryItem.status == RetryStatus.PENDING.value, RetryItem.next_try_at <= now)
        .where(*retries.job_runs_retries(), *_turn_of(now))
        .order_by(RetryItem.next_try_at)
        .limit(limit)
    )
    # Chosen first, then claimed by id: the claim's locking subquery stays a
    # plain list, so no database can take more than ``limit`` (or re-evaluate
    # the per-job rule per row); a row another process took meanwhile is skipped.
    ids = list(session.scalars(due))
    if not ids:
        return []
    chosen = select(RetryItem.id).where(claims.by_ids(RetryItem, ids))
    return _claim(
        session, chosen.order_by(RetryItem.next_try_at), RetryStatus.PENDING.value, claimer, now
    )


def _turn_of(now: datetime) -> list[ColumnElement[bool]]:
    """SQL: the item is its job's next retry and the job has a free instance."""
    other = aliased(RetryItem)
    same_job = other.job_id == RetryItem.job_id
    earlier = (other.next_try_at < RetryItem.next_try_at) | (
        (other.next_try_at == RetryItem.next_try_at) & (other.id < RetryItem.id)
    )
    older_due = select(other.id).where(
        same_job, other.status == RetryStatus.PENDING.value, other.next_try_at <= now, earlier
    )
    launching = select(other.id).where(same_job, other.status == RetryStatus.CLAIMED.value)
    taken = (
        select(func.count())
        .select_from(Execution)
        .where(
            Execution.job_id == RetryItem.job_id,
            Execution.status.in_(overlap.ACTIVE)
            | ((Execution.status == ExecutionStatus.PENDING.value) & overlap.is_held()),
        )
        .scalar_subquery()
    )
    return [~older_due.exists(), ~launching.exists(), taken < ScheduledJob.max_instances]


def claim_selected(
    session: DbSession, ids: Sequence[uuid.UUID], claimer: str, now: datetime
) -> list[uuid.UUID]:
    """Claim chosen open items at once, whatever their next try time (retry now)."""
    chosen = select(RetryItem.id).where(claims.by_ids(RetryItem, ids))
    return _claim(session, chosen, OPEN, claimer, now)


def _claim(
    session: DbSession,
    candidates: Select[uuid.UUID],
    due: str | Sequence[str],
    claimer: str,
    now: datetime,
) -> list[uuid.UUID]:
    values = {
        "status": RetryStatus.CLAIMED.value,
        "claimed_by": claimer[:255],
        "claimed_at": now,
        "updated_at": now,
    }
    return claims.claim(session, candidates, RetryItem, due, values)


@dataclass(frozen=True)
class Launched:
    """New attempts created from claimed items: enqueue ``arms`` after the commit."""

    executions: list[Execution]
    arms: list[Arm]


def launch(
    session: DbSession,
    ids: Sequence[uuid.UUID],
    claimer: str,
    now: datetime,
    user: User | None = None,
) -> Launched:
    """Turn items this claimer holds into queued attempts and mark them done (caller commits)."""
    items = session.scalars(
        select(RetryItem)
        # Only what an attempt is made of (anything else loads on access).
        .options(
            joinedload(RetryItem.execution).load_only(Execution.scheduled_for),
            joinedload(RetryItem.job)
            .load_only(ScheduledJob.deleted_at, ScheduledJob.queue, ScheduledJob.timeout_seconds)
            .options(
                joinedload(ScheduledJob.task_function).load_only(TaskFunction.queue),
                lazyload(ScheduledJob.job_type),
            ),
        )
        .where(claims.by_ids(RetryItem, ids))
        .where(RetryItem.status == RetryStatus.CLAIMED.value, RetryItem.claimed_by == claimer)
        # The claim was a bulk UPDATE: objects already loaded must see its result.
        .execution_options(populate_existing=True)
    ).all()
    executions, arms = [], []
    for item in items:
        job = item.job
        if job.deleted_at is not None:
            _close(item, RetryStatus.DISCARDED, now, "the job was deleted")
            continue
        row = _attempt(item, now, user)
        session.add(row)
        item.status = RetryStatus.DONE.value
        item.retry_execution_id = row.id
        item.updated_at = now
        executions.append(row)
        arms.append(Arm(row.id, now, job.effective_queue, job.timeout_seconds))
    return Launched(executions, arms)


def _attempt(item: RetryItem, now: datetime, user: User | None) -> Execution:
    """The next attempt of a failed run: the same slot, one attempt further."""
    row_id = uuid.uuid4()
    return Execution(
        id=row_id,
        rq_job_id=rq_job_id(row_id),
        job_id=item.job_id,
        status=ExecutionStatus.QUEUED.value,
        scheduled_for=item.execution.scheduled_for,
        queued_at=now,
        attempt=item.attempt,
        retry_of=item.execution_id,
        triggered_by=TriggeredBy.RETRY.value,
        triggered_by_user_id=user.id if user else None,
        created_at=now,
    )


def _close(item: RetryItem, status: RetryStatus, now: datetime, why: str | None = None) -> None:
    item.status = status.value
    item.updated_at = now
    if why:
        item.last_error = f"{why}; {item.last_error or ''}".rstrip("; ")[:2000]


def reclaim_stale(session: DbSession, now: datetime, timeout: timedelta) -> int:
    """Hand back claims older than ``timeout`` (their process died before launching)."""
    result = session.execute(
        update(RetryItem)
        .where(RetryItem.status == RetryStatus.CLAIMED.value, RetryItem.claimed_at < now - timeout)
        .values(status=RetryStatus.PENDING.value, claimed_by=None, claimed_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def discard_orphans(session: DbSession, now: datetime) -> int:
    """Pending items of deleted jobs are discarded: nothing would ever run them."""
    deleted = select(ScheduledJob.id).where(ScheduledJob.deleted_at.is_not(None))
    result = session.execute(
        update(RetryItem)
        .where(RetryItem.status == RetryStatus.PENDING.value, RetryItem.job_id.in_(deleted))
        .values(status=RetryStatus.DISCARDED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# ---- listing and manual control ---------------------------------------------------------


@dataclass(frozen=True)
class Retried:
    """What a manual retry started: the new attempts, and whether RQ has them yet."""

    executions: list[Execution]
    queued: bool

    @property
    def message(self) -> str:
        """What to tell the person who asked."""
        if self.queued:
            return _("Retry queued.")
        return _("Queued; Redis is unreachable, so it starts once the scheduler re-queues it.")


_NO_RETRY = N_("Viewers cannot retry or discard runs.")


def retry_now(
    session: DbSession,
    user: User,
    item: RetryItem | uuid.UUID,
    now: datetime,
    recurrence: Recurrence | None,
) -> Retried:
    """Start the next attempt at once, ignoring the backoff; commit, then enqueue it."""
    row = get_item(session, user, item)
    access.require_job_change(user, row.job, _(_NO_RETRY))
    if row.job.deleted_at is not None:
        raise Conflict(_("The job was deleted; its runs cannot be retried."))
    claimer = f"user:{user.email}"
    if not claim_selected(session, [row.id], claimer, now):
        raise Conflict(
            _("The item is {status}: only pending or dead items can be retried.").format(
                status=row.status
            )
        )
    launched = launch(session, [row.id], claimer, now, user)
    session.commit()
    return Retried(launched.executions, enqueue(recurrence, launched.arms))


def discard(session: DbSession, user: User, item: RetryItem | uuid.UUID, now: datetime) -> None:
    """Drop an item: no further attempt (the run stays as it ended); commit."""
    row = get_item(session, user, item)
    access.require_job_change(user, row.job, _(_NO_RETRY))
    if not _discard(session, [row.id], now):
        raise Conflict(
            _("The item is {status}: only pending or dead items can be discarded.").format(
                status=row.status
            )
        )
    session.commit()


def _discard(session: DbSession, ids: Sequence[uuid.UUID], now: datetime) -> int:
    result = session.execute(
        update(RetryItem)
        .where(claims.by_ids(RetryItem, ids), RetryItem.status.in_(OPEN))
        .values(status=RetryStatus.DISCARDED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk action did with the items it aimed at, counted for the person who asked."""

    action: str
    done: int
    already: int  # no longer open: retried, being retried or discarded meanwhile
    not_allowed: int  # open, but of jobs this user may not change (or deleted, for a retry)
    truncated: bool
    retried: Retried


@dataclass(frozen=True)
class _Aim:
    """What a bulk action aims at: every match (id, status), the open ones, those allowed."""

    matched: int
    open: int
    target: list[uuid.UUID]
    truncated: bool


def _aim(session: DbSession, user: User, action: str, filters: RetryFilters) -> _Aim:
    """The items matching ``filters`` (at most BULK_LIMIT) and which of them may be acted on."""
    matched = session.execute(
        filtered(user, filters).with_only_columns(RetryItem.id, RetryItem.status)
        .order_by(RetryItem.id).limit(BULK_LIMIT + 1)
    ).all()  # fmt: skip
    open_ids = [item_id for item_id, status in matched[:BULK_LIMIT] if status in OPEN]
    allowed = select(ScheduledJob.id).where(access.changeable_job_condition(user))
    if action == "trigger":
        allowed = allowed.where(ScheduledJob.deleted_at.is_(None))
    mine = select(RetryItem.id).where(
        claims.by_ids(RetryItem, open_ids), RetryItem.job_id.in_(allowed)
    )
    target = list(session.scalars(mine)) if open_ids else []
    count = min(len(matched), BULK_LIMIT)
    return _Aim(count, len(open_ids), target, len(matched) > BULK_LIMIT)


def apply_bulk(
    session: DbSession,
    user: User,
    action: str,
    filters: RetryFilters,
    now: datetime,
    recurrence: Recurrence | None,
) -> BulkOutcome:
    """Retry now (``trigger``) or ``discard`` the open items matching ``filters``; commit.

    At most BULK_LIMIT items per call. Items of jobs the user may see but not
    change (others', system tasks for editors) are counted, not touched.
    """
    access.require_writer(user, _(_NO_RETRY))
    aim = _aim(session, user, action, filters)
    retried = Retried([], True)
    if action == "discard":
        done = _discard(session, aim.target, now) if aim.target else 0
        session.commit()
    else:
        claimer = f"user:{user.email}"
        taken = claim_selected(session, aim.target, claimer, now) if aim.target else []
        launched = launch(session, taken, claimer, now, user)
        session.commit()
        done = len(launched.executions)
        retried = Retried(launched.executions, enqueue(recurrence, launched.arms))
    already = aim.matched - aim.open + len(aim.target) - done
    refused = aim.open - len(aim.target)
    return BulkOutcome(action, done, already, refused, aim.truncated, retried)


def bulk(
    session: DbSession,
    user: User,
    action: str,
    filters: RetryFilters,
    now: datetime,
    recurrence: Recurrence | None,
) -> tuple[int, Retried]:
    """``apply_bulk`` as the API reports it: how many were acted on, and the new attempts."""
    outcome = apply_bulk(session, user, action, filters, now, recurrence)
    return outcome.done, outcome.retried


__all__ = [
    "BULK_LIMIT",
    "BulkOutcome",
    "Launched",
    "Retried",
    "RetryFilters",
    "apply_bulk",
    "bulk",
    "claim_due",
    "claim_selected",
    "discard",
    "discard_orphans",
    "get_item",
    "launch",
    "list_items",
    "reclaim_stale",
    "retry_now",
]
