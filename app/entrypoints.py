"""RQ entry points: thin — load by id, call a service, always end in a terminal state."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Iterator

from flask import Flask, current_app, has_app_context
from rq import get_current_job

from app.extensions import db
from app.models import ExecutionStatus, utcnow
from app.services import deliveries, runs
from app.services.instances import WORKER_NAME_ENV, worker_name

log = logging.getLogger(__name__)
_app: Flask | None = None


@contextlib.contextmanager
def _app_context() -> Iterator[None]:
    """The worker's app context (inherited from worker.py), else one built once."""
    global _app
    if has_app_context():
        yield
        return
    if _app is None:
        from app import create_app

        _app = create_app()
    with _app.app_context():
        yield


def run_execution(execution_id: str) -> None:
    """Run one execution: claim it, run its task, record the outcome (try/finally)."""
    with _app_context():
        rq_job = get_current_job()
        enqueued_at = rq_job.enqueued_at if rq_job else None
        if enqueued_at is not None and enqueued_at.tzinfo is None:
            enqueued_at = enqueued_at.replace(tzinfo=utcnow().tzinfo)
        ident = uuid.UUID(execution_id)
        name = os.environ.get(WORKER_NAME_ENV) or worker_name(socket.gethostname(), os.getpid())
        execution = runs.claim(db.session, ident, name, enqueued_at, utcnow())
        if execution is None:
            return
        outcome = runs.Outcome(ExecutionStatus.FAILED, error="the run ended unexpectedly")
        try:
            runs.wait_until_due(execution)
            outcome = runs.execute(execution.job, current_app.config["LOG_OUTPUT_LIMIT"])
        finally:
            db.session.rollback()
            runs.finish(
                db.session, ident, outcome, utcnow(), current_app.config["RETRY_MAX_ABANDONED"]
            )
            db.session.remove()


def deliver_webhook(delivery_id: str) -> None:
    """Send one attempt of a webhook delivery; its outcome never touches the run."""
    with _app_context():
        settings = deliveries.DeliverySettings.from_config(current_app.config)
        try:
            deliveries.deliver(db.session, uuid.UUID(delivery_id), settings, utcnow())
        except Exception:
            # Recorded nowhere else: the sweep makes a delivery stuck in "sending" due again.
            log.exception("webhook delivery %s failed unexpectedly", delivery_id)
            db.session.rollback()
        finally:
            db.session.remove()
