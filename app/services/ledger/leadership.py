"""The scheduler lease: one leader at a time, fenced by a growing token.

A scheduler that wants to lead takes the lease row when it has lapsed; the
token grows by one at every change of holder. Every write the leader makes
happens in a transaction that first re-checks (and locks) the lease with its
own token, so a paused or partitioned ex-leader whose lease lapsed cannot arm
or record anything even if it wakes up late.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import DbSession
from app.models import LeaderLease, SchedulerInstance

LEASE_NAME = "scheduler"


class LostLeadership(RuntimeError):
    """The lease is no longer ours: stop leading at once."""


@dataclass(frozen=True)
class Lease:
    """What a leader holds."""

    holder_id: uuid.UUID
    token: int
    expires_at: datetime


def _ensure_row(session: DbSession) -> None:
    """The lease row exists from the first attempt on (insert races are fine)."""
    if session.get(LeaderLease, LEASE_NAME) is None:
        try:
            with session.begin_nested():
                session.add(LeaderLease(name=LEASE_NAME, token=0))
        except IntegrityError:
            pass


def try_acquire(
    session: DbSession, holder_id: uuid.UUID, now: datetime, ttl: timedelta
) -> Lease | None:
    """Take the lease if it is free or lapsed; commit; return it, else None."""
    _ensure_row(session)
    expires = now + ttl
    result = session.execute(
        update(LeaderLease)
        .where(
            LeaderLease.name == LEASE_NAME,
            or_(LeaderLease.expires_at.is_(None), LeaderLease.expires_at < now),
        )
        .values(
            holder_id=holder_id, token=LeaderLease.token + 1, expires_at=expires, acquired_at=now
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return None
    token = session.scalar(select(LeaderLease.token).where(LeaderLease.name == LEASE_NAME))
    _mark_leader(session, holder_id, now)
    session.commit()
    return Lease(holder_id, int(token or 0), expires)


def renew(session: DbSession, lease: Lease, now: datetime, ttl: timedelta) -> Lease:
    """Extend our lease; LostLeadership if it lapsed or changed hands."""
    expires = now + ttl
    result = session.execute(
        update(LeaderLease)
        .where(
            LeaderLease.name == LEASE_NAME,
            LeaderLease.holder_id == lease.holder_id,
            LeaderLease.token == lease.token,
            LeaderLease.expires_at >= now,
        )
        .values(expires_at=expires)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise LostLeadership(f"lease token {lease.token} lapsed or was taken")
    session.commit()
    return Lease(lease.holder_id, lease.token, expires)


def fence(session: DbSession, lease: Lease, now: datetime) -> None:
    """Inside the caller's transaction: lock the lease row and prove it is still ours.

    Call before committing any leader write; on failure roll back the caller's work.
    """
    row = session.execute(
        select(LeaderLease.token)
        .where(
            LeaderLease.name == LEASE_NAME,
            LeaderLease.holder_id == lease.holder_id,
            LeaderLease.token == lease.token,
            LeaderLease.expires_at >= now,
        )
        .with_for_update()
    ).first()
    if row is None:
        raise LostLeadership(f"lease token {lease.token} is no longer valid")


def release(session: DbSession, lease: Lease) -> None:
    """Give the lease up (clean shutdown) so a stand-by takes over at once."""
    session.execute(
        update(LeaderLease)
        .where(LeaderLease.name == LEASE_NAME, LeaderLease.token == lease.token)
        .values(expires_at=None, holder_id=None)
    )
    session.execute(
        update(SchedulerInstance)
        .where(SchedulerInstance.id == lease.holder_id)
        .values(is_leader=False, leader_since=None)
    )
    session.commit()


def _mark_leader(session: DbSession, holder_id: uuid.UUID, now: datetime) -> None:
    """Only the holder is flagged leader among instances."""
    session.execute(
        update(SchedulerInstance)
        .where(SchedulerInstance.is_leader, SchedulerInstance.id != holder_id)
        .values(is_leader=False, leader_since=None)
    )
    session.execute(
        update(SchedulerInstance)
        .where(SchedulerInstance.id == holder_id)
        .values(is_leader=True, leader_since=now)
    )
