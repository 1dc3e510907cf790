"""Demo data for `make run`: an admin and a few jobs that show the engine working."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.extensions import DbSession
from app.models import Role, ScheduledJob
from app.services.scheduling import catalog, jobs
from app.services.users import accounts

DEMO_EMAIL = "admin@example.com"

DEMO_JOBS: list[dict[str, Any]] = [
    {
        "name": "Heartbeat (every 30 s)",
        "description": "A no-op every thirty seconds: shows runs arriving on time.",
        "task_function": "noop",
        "schedule_config": {"seconds": 30},
    },
    {
        "name": "Flaky import (every minute)",
        "description": "Fails a third of the time, to show retries and failures.",
        "task_function": "flaky",
        "schedule_config": {"minutes": 1},
        "task_args": {"failure_rate": 0.33},
        "retry_count": 2,
        "retry_delay_seconds": 10,
    },
    {
        "name": "Nightly report (Berlin)",
        "description": "A cron job at 02:30 Europe/Berlin, DST-aware.",
        "task_function": "sleep",
        "schedule_config": {"expression": "30 2 * * *"},
        "timezone": "Europe/Berlin",
        "task_args": {"seconds": 2},
    },
    {
        "name": "Clean up history",
        "description": "Deletes execution history older than 30 days.",
        "task_function": "cleanup_history",
        "schedule_config": {"expression": "15 3 * * *"},
        "task_args": {"older_than_days": 30},
    },
]


def _demo_password(instance_path: Path) -> str:
    """The demo admin's password, generated once and kept in instance/."""
    path = instance_path / "demo-admin-password"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password)
    return password


def seed(session: DbSession, now: datetime, instance_path: Path) -> tuple[str, str]:
    """Create the demo admin and demo jobs unless present; return the login."""
    catalog.ensure_catalog(session)
    password = _demo_password(instance_path)
    admin = accounts.find_user(session, DEMO_EMAIL)
    if admin is None:
        admin = accounts.create_user(session, DEMO_EMAIL, password, Role.ADMIN.value, "Demo admin")
    existing = set(
        session.scalars(select(ScheduledJob.name).where(ScheduledJob.owner_id == admin.id))
    )
    for spec in DEMO_JOBS:
        if spec["name"] not in existing:
            jobs.create_job(session, admin, dict(spec), now)
    return DEMO_EMAIL, password


__all__ = ["seed"]
