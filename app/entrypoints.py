"""RQ entry points: thin — load by id, call a service, always end in a terminal state."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from flask import Flask, current_app, has_app_context
from rq import get_current_job
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from app import telemetry
from app.extensions import db
from app.models import Execution, ExecutionStatus, ScheduledJob, utcnow
from app.services.events import deliveries
from app.services.ledger import runs
from app.services.ledger.instances import WORKER_NAME_ENV, worker_name

log = logging.getLogger(__name__)
_app: Flask | None = None
T = TypeVar("T")
# How long a run waits for a database that went away (a restart), in seconds.
DATABASE_PATIENCE = 20.0
# A run that has ended waits longer to record how: it cannot be run again for free.
OUTCOME_PATIENCE = 60.0


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
        claimed = _claim(ident, name, enqueued_at)
        if claimed is None:
            return
        execution, job = claimed
        outcome = runs.Outcome(ExecutionStatus.FAILED, error="the run ended unexpectedly")
        ran: float | None = None  # seconds the task ran, once it returned
        try:
            runs.wait_until_due(execution)
            started = time.monotonic()
            outcome = runs.execute(job, current_app.config["LOG_OUTPUT_LIMIT"])
            ran = time.monotonic() - started
        finally:
            limit = current_app.config["RETRY_MAX_ABANDONED"]
            recorded = _patiently(
                "record the outcome",
                lambda: runs.finish(db.session, ident, outcome, utcnow(), limit, claimed=execution),
                OUTCOME_PATIENCE,
            )
            if recorded:  # counted once, by whoever closed the run
                telemetry.run_ended(job.task_function.name, outcome.status.value, ran)
            db.session.remove()


def _claim(
    ident: uuid.UUID, name: str, enqueued_at: datetime | None
) -> tuple[Execution, ScheduledJob] | None:
    """Claim the run and load its job, waiting out a database that is briefly away.

    Then the session is closed: no transaction and no checked-out connection
    while user code runs (an idle transaction held for the whole task holds
    back vacuum). If the database stays away, the error reaches RQ, which
    gives up on the job; the run is still ``queued`` and reconcile enqueues
    it again.
    """
    tries = 0

    def attempt() -> tuple[Execution, ScheduledJob] | None:
        nonlocal tries
        tries += 1
        row = runs.claim(db.session, ident, name, enqueued_at, utcnow())
        if row is None and tries > 1:
            # An earlier try may have committed before its connection died.
            mine = db.session.get(Execution, ident)
            if mine is not None and mine.status == ExecutionStatus.RUNNING:
                row = mine if mine.worker_name == name else None
        claimed = None if row is None else (row, row.job)
        db.session.close()
        return claimed

    return _patiently("claim the run", attempt)


def _patiently(what: str, step: Callable[[], T], patience: float | None = None) -> T:
    """Run a database step; when the database went away, wait and try again for a while.

    Waits double from half a second (up to 8 s); past ``patience`` seconds
    in all (a failing attempt may itself take a while: SQLite's busy
    timeout) the error is raised. Every step retried here is safe to repeat: it rolls
    back or commits whole, and a claim or an outcome that was already
    recorded is not recorded twice (both are conditional on the run's status).
    """
    deadline = time.monotonic() + (DATABASE_PATIENCE if patience is None else patience)
    wait = 0.5
    while True:
        try:
            return step()
        except DBAPIError as error:
            if not (error.connection_invalidated or isinstance(error, OperationalError)):
                raise
            with contextlib.suppress(SQLAlchemyError):
                db.session.rollback()
            if time.monotonic() + wait > deadline:
                raise
            log.warning("database unavailable to %s (%s); again in %.1fs", what, error.orig, wait)
            time.sleep(wait)
            wait = min(wait * 2, 8.0)


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
