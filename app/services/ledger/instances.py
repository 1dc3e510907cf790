"""Almanac processes registering themselves and keeping a heartbeat."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import update

from app.extensions import DbSession
from app.models import SchedulerInstance

# Set by each worker process; its forked work horses inherit it.
WORKER_NAME_ENV = "ALMANAC_WORKER_NAME"


def register(session: DbSession, role: str, version: str, now: datetime) -> SchedulerInstance:
    """Record this process as a running instance of ``role``."""
    instance = SchedulerInstance(
        hostname=socket.gethostname(),
        pid=os.getpid(),
        role=role,
        version=version,
        started_at=now,
        last_heartbeat=now,
    )
    session.add(instance)
    session.commit()
    return instance


def worker_name(hostname: str, pid: int) -> str:
    """How executions name the worker process that ran them."""
    return f"{hostname}:{pid}"


def beat(session: DbSession, instance_id: uuid.UUID, now: datetime) -> None:
    """Refresh an instance's heartbeat (and revive it if it was marked stopped)."""
    session.execute(
        update(SchedulerInstance)
        .where(SchedulerInstance.id == instance_id)
        .values(last_heartbeat=now, stopped_at=None)
    )
    session.commit()


def stop(session: DbSession, instance_id: uuid.UUID, now: datetime) -> None:
    """Mark an instance stopped (clean shutdown)."""
    session.execute(
        update(SchedulerInstance)
        .where(SchedulerInstance.id == instance_id)
        .values(stopped_at=now, is_leader=False, leader_since=None)
    )
    session.commit()


def mark_stale(session: DbSession, now: datetime, after: timedelta) -> int:
    """Instances silent for longer than ``after`` are marked stopped; returns how many."""
    result = session.execute(
        update(SchedulerInstance)
        .where(
            SchedulerInstance.stopped_at.is_(None), SchedulerInstance.last_heartbeat < now - after
        )
        .values(stopped_at=now, is_leader=False, leader_since=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
