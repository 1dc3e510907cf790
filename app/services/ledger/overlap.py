"""The overlap rule, shared by both halves of the ledger.

A job runs at most ``max_instances`` runs at once (SPEC §4.4). The scheduler
decides when a slot falls due (``firing``): a slot that would exceed the limit
— counting the job's runs running, queued, and held ahead of it — is held
(``queue``: one waiting run per job) or recorded skipped (``skip``), so a busy
pool never piles up a backlog. The worker checks again where a run would start
(``runs.claim``), the concurrency-safe check. Catch-up runs (misfire
``run_all``) wait their turn in slot order, and a slot that falls due while
they wait joins the line behind them. Every skip or hold says what it counted.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import aliased

from app.extensions import DbSession
from app.models import (
    Execution,
    ExecutionStatus,
    MisfirePolicy,
    OverlapPolicy,
    ScheduledJob,
    TriggeredBy,
    WebhookPhase,
)
from app.services.batches import chunks
from app.services.events import webhooks

HELD = "held for a free instance"
ACTIVE = (ExecutionStatus.QUEUED.value, ExecutionStatus.RUNNING.value)
_Waiting = aliased(Execution)


def is_held() -> ColumnElement[bool]:
    """SQL: the row waits for a free instance (held by the overlap or misfire policy)."""
    return Execution.held == true()


def is_held_row(row: Execution) -> bool:
    """The row waits for a free instance."""
    return bool(row.held)


def hold(row: Execution, reason: str) -> None:
    """Keep a pending row back until its job has a free instance (``release``).

    The reason is history, not state: it still explains a late start after
    the row was released, so release leaves it as it is.
    """
    row.status = ExecutionStatus.PENDING.value
    row.held = True
    row.reason = reason[:500]


def release(row: Execution) -> None:
    """A held row may start: it is no longer waiting."""
    row.held = False


def _recorded_late(triggered_by: str, created_at: datetime | None, slot: datetime) -> bool:
    """A scheduler slot recorded once its time had come: a catch-up run.

    Derived from the row's own times, not its wording: every on-time slot is
    recorded (armed) before it falls due, while the misfire policy records
    catch-up runs when it finds their slots already past (``firing._misfire``).
    """
    if triggered_by != TriggeredBy.SCHEDULER or created_at is None:
        return False
    return created_at >= slot


@dataclass
class Load:
    """What keeps a job's next run from starting: its runs running, queued and held."""

    job: ScheduledJob
    running: int = 0
    queued: int = 0
    # Held slots of the job, with whether each is a catch-up run.
    held: list[tuple[datetime, bool]] = field(default_factory=list)

    def held_ahead(self, slot: datetime) -> int:
        """Held runs of older slots: the slot may not overtake them."""
        return sum(1 for when, _ in self.held if when < slot)

    def catch_up_ahead(self, slot: datetime) -> int:
        """Held catch-up runs of older slots."""
        return sum(1 for when, catch_up in self.held if catch_up and when < slot)

    def busy(self, slot: datetime) -> int:
        """Runs that take an instance before the slot's run."""
        return self.running + self.queued + self.held_ahead(slot)

    def may_start(self, slot: datetime) -> bool:
        """The slot's run fits within max_instances now."""
        return self.busy(slot) < self.job.max_instances

    def counted(self, slot: datetime) -> str:
        """What was counted, in words: "0 running, 1 queued, 4 held ahead of it"."""
        parts = [f"{self.running} running"]
        if self.queued:
            parts.append(f"{self.queued} queued")
        if ahead := self.held_ahead(slot):
            parts.append(f"{ahead} held ahead of it")
        return ", ".join(parts)


def active_counts(
    session: DbSession, job_ids: Iterable[uuid.UUID], statuses: Sequence[str] = ACTIVE
) -> Counter[uuid.UUID]:
    """Executions per job in the given statuses (default: queued or running)."""
    counts: Counter[uuid.UUID] = Counter()
    for part in chunks(set(job_ids)):
        rows = session.execute(
            select(Execution.job_id, func.count())
            .where(Execution.job_id.in_(part), Execution.status.in_(statuses))
            .group_by(Execution.job_id)
        )
        counts.update({job_id: count for job_id, count in rows})
    return counts


def held_jobs(session: DbSession, job_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these jobs have a run held, waiting for a free instance."""
    held: set[uuid.UUID] = set()
    for part in chunks(set(job_ids)):
        held |= set(
            session.scalars(
                select(Execution.job_id).where(
                    Execution.job_id.in_(part),
                    Execution.status == ExecutionStatus.PENDING.value,
                    is_held(),
                )
            )
        )
    return held


def loads(
    session: DbSession, jobs: Iterable[ScheduledJob], *, exclude: uuid.UUID | None = None
) -> dict[uuid.UUID, Load]:
    """The load of each job (``exclude``: a row that does not count, the one being claimed)."""
    result = {job.id: Load(job) for job in jobs}
    for part in chunks(list(result)):
        counts = session.execute(
            select(Execution.job_id, Execution.status, func.count())
            .where(Execution.job_id.in_(part), Execution.status.in_(ACTIVE))
            .where(Execution.id != exclude if exclude is not None else true())
            .group_by(Execution.job_id, Execution.status)
        )
        for job_id, status, count in counts:
            load = result[job_id]
            if status == ExecutionStatus.RUNNING:
                load.running = count
            else:
                load.queued = count
        held = session.execute(
            select(
                Execution.job_id,
                Execution.scheduled_for,
                Execution.created_at,
                Execution.triggered_by,
            ).where(
                Execution.job_id.in_(part),
                Execution.status == ExecutionStatus.PENDING.value,
                is_held(),
            )
        )
        for job_id, slot, created_at, triggered_by in held:
            if slot is not None:  # every slot row has its time
                result[job_id].held.append((slot, _recorded_late(triggered_by, created_at, slot)))
    return result


def waiting_before(job_id: Any, scheduled_for: Any) -> ColumnElement[bool]:
    """SQL: an older slot of the job is held, waiting for a free instance.

    ``job_id`` and ``scheduled_for`` are values or bound parameters.
    """
    return (
        select(_Waiting.id)
        .where(
            _Waiting.job_id == job_id,
            _Waiting.status == ExecutionStatus.PENDING.value,
            _Waiting.held == true(),
            _Waiting.scheduled_for < scheduled_for,
        )
        .exists()
    )


def wait_or_skip(
    session: DbSession, row: Execution, load: Load, now: datetime, *, line_cap: int = 0
) -> bool:
    """A run that cannot start now is held or recorded skipped; True if held.

    Under misfire ``run_all``, a slot
    that falls due while catch-up runs are held joins their line (up to
    ``line_cap`` held runs), so they all run one after another. Otherwise the
    overlap policy decides: ``queue`` holds one, ``skip`` (or a second one to
    queue) is recorded skipped. The reason says what was counted.
    """
    job = load.job
    assert row.scheduled_for is not None
    slot = row.scheduled_for
    limit = f"max_instances={job.max_instances}"
    counted = load.counted(slot)
    if _joins_catch_up(load, slot, line_cap):
        ahead = load.catch_up_ahead(slot)
        hold(row, f"{HELD} behind {ahead} catch-up run(s), misfire policy run_all ({counted})")
        return True
    if job.overlap_policy == OverlapPolicy.QUEUE and not load.held:
        hold(row, f"{HELD} ({limit}, overlap policy queue): {counted}")
        return True
    reason = f"skipped: no free instance ({limit}): {counted}"
    if job.overlap_policy == OverlapPolicy.QUEUE:
        reason += "; a run is already waiting"
    row.status = ExecutionStatus.SKIPPED.value
    row.reason = reason[:500]
    row.completed_at = now
    webhooks.emit(session, WebhookPhase.SKIPPED, row, now)
    return False


def _joins_catch_up(load: Load, slot: datetime, line_cap: int) -> bool:
    """The slot falls due while its job's catch-up runs (run_all) wait, and the line has room."""
    return (
        load.job.misfire_policy == MisfirePolicy.RUN_ALL
        and load.catch_up_ahead(slot) > 0
        and load.held_ahead(slot) < line_cap
    )
