"""The `worker` process: RQ workers that run executions.

The app is built once here; each worker child is forked from it and RQ forks
a work horse per run, which inherits it. SIGTERM: finish the current run, stop.
"""

from __future__ import annotations

from sqlalchemy import select

from app import create_app
from app.engine import pings
from app.engine.workers import Supervisor
from app.extensions import db
from app.models import ScheduledJob
from app.services.ledger.recurrence import WEBHOOK_QUEUE
from app.tasks import registry


def queue_names(configured: list[str]) -> list[str]:
    """The queues to listen on: configured ones, else every queue a task or job uses."""
    if configured:
        return configured
    names = {spec.queue for spec in registry} | {"default", WEBHOOK_QUEUE}
    names |= {q for q in db.session.scalars(select(ScheduledJob.queue).distinct()) if q}
    return sorted(names)


def main() -> None:
    """Start WORKER_CONCURRENCY RQ workers on Almanac's queues."""
    app = create_app({"SQLALCHEMY_ENGINE_OPTIONS": pings.WORKER_ENGINE_OPTIONS})
    with app.app_context():
        pings.ping_when_idle(db.engine)
        queues = queue_names(app.config["WORKER_QUEUES"])
        db.session.remove()
        db.engine.dispose()
    Supervisor(app, queues).run()


if __name__ == "__main__":
    main()
