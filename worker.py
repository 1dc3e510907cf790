"""The `worker` process: RQ workers that run executions (and, later, webhook deliveries).

The app is built once here; RQ forks a work horse per job, which inherits it.
SIGTERM makes RQ finish the current job and stop (a warm shutdown).
"""

from __future__ import annotations

import logging

from rq import Worker
from rq.serializers import JSONSerializer
from rq.worker_pool import WorkerPool
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import ScheduledJob
from app.queues import redis_connection
from app.tasks import registry

log = logging.getLogger("almanac.worker")


def queue_names(configured: list[str]) -> list[str]:
    """The queues to listen on: configured ones, else every queue a task or job uses."""
    if configured:
        return configured
    names = {spec.queue for spec in registry} | {"default"}
    names |= {q for q in db.session.scalars(select(ScheduledJob.queue).distinct()) if q}
    return sorted(names)


def main() -> None:
    """Start WORKER_CONCURRENCY RQ workers on Almanac's queues."""
    app = create_app()
    with app.app_context():
        queues = queue_names(app.config["WORKER_QUEUES"])
        concurrency = app.config["WORKER_CONCURRENCY"]
        connection = redis_connection()
        db.session.remove()
        log.info("starting %d worker(s) on queues %s", concurrency, ", ".join(queues))
        if concurrency == 1:
            Worker(queues, connection=connection, serializer=JSONSerializer).work()
        else:
            pool = WorkerPool(
                queues, connection=connection, num_workers=concurrency, serializer=JSONSerializer
            )
            pool.start()


if __name__ == "__main__":
    main()
