"""RQ entry points: thin — load by id, call a service, always end in a terminal state."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import IO, Any, TypeVar

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
    """Run one execution: claim it, run its task, record the outcome (try/finally).

    In a work horse whose worker already claimed the run (``Handoff``), only
    the task runs here; the worker records the outcome.
    """
    if _handoff is not None and _handoff.ident == uuid.UUID(execution_id):
        _run_handed_off(_handoff)
        return
    with _app_context():
        rq_job = get_current_job()
        ident = uuid.UUID(execution_id)
        claimed = _claim(ident, _worker_name(), _aware(rq_job.enqueued_at if rq_job else None))
        if claimed is None:
            return
        execution, job = claimed
        outcome = runs.Outcome(ExecutionStatus.FAILED, error="the run ended unexpectedly")
        ran: float | None = None  # seconds the task ran, once it returned
        try:
            outcome, ran = _run_task(execution, job)
        finally:
            _record(ident, execution, job, outcome, ran)
            db.session.remove()


def _run_task(execution: Execution, job: ScheduledJob) -> tuple[runs.Outcome, float]:
    """Wait for the run's slot, then run its task: the outcome and the seconds it ran."""
    runs.wait_until_due(execution)
    started = time.monotonic()
    outcome = runs.execute(job, current_app.config["LOG_OUTPUT_LIMIT"])
    return outcome, time.monotonic() - started


def _record(
    ident: uuid.UUID,
    execution: Execution,
    job: ScheduledJob,
    outcome: runs.Outcome,
    ran: float | None,
) -> None:
    """Record a claimed run's outcome, waiting out a database outage; count it once."""
    limit = current_app.config["RETRY_MAX_ABANDONED"]
    recorded = _patiently(
        "record the outcome",
        lambda: runs.finish(db.session, ident, outcome, utcnow(), limit, claimed=execution),
        OUTCOME_PATIENCE,
    )
    if recorded:  # counted once, by whoever closed the run
        telemetry.run_ended(job.task_function.name, outcome.status.value, ran)


def _aware(enqueued_at: datetime | None) -> datetime | None:
    """RQ's enqueue time as an aware UTC instant (RQ hands it back naive)."""
    if enqueued_at is not None and enqueued_at.tzinfo is None:
        return enqueued_at.replace(tzinfo=utcnow().tzinfo)
    return enqueued_at


def _worker_name() -> str:
    return os.environ.get(WORKER_NAME_ENV) or worker_name(socket.gethostname(), os.getpid())


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


@dataclass
class Handoff:
    """A run the forking worker claimed before forking its horse, which only runs the task.

    The worker keeps its pooled database connection from run to run; a horse
    starts with an empty pool (a connection must never cross a fork), so a
    horse that claimed and recorded would open a new connection per run,
    which cost more than the fork itself. The horse writes the outcome to
    ``report`` (a file: a pipe could fill up before the worker reads it) and
    the worker records it once the horse has exited. A horse that died
    without writing one is recorded as lost, as before.
    """

    ident: uuid.UUID
    claimed: tuple[Execution, ScheduledJob] | None = None
    error: str | None = None  # the claim failed: the horse raises it to RQ
    report: IO[bytes] = field(default_factory=tempfile.TemporaryFile)
    died: str | None = None  # how the horse died, if it did

    def write(self, outcome: runs.Outcome, ran: float | None) -> None:
        """In the horse: the outcome, for the worker to record."""
        body = asdict(outcome) | {"status": outcome.status.value, "ran": ran}
        self.report.write(json.dumps(body, default=repr).encode())
        self.report.flush()

    def read(self) -> tuple[runs.Outcome, float | None] | None:
        """In the worker: what the horse reported, if anything."""
        self.report.seek(0)
        raw = self.report.read()
        self.report.close()
        if not raw:
            return None
        body: dict[str, Any] = json.loads(raw)
        ran = body.pop("ran")
        body["status"] = ExecutionStatus(body["status"])
        return runs.Outcome(**body), ran


# Set in the forking worker just before it forks a horse for a claimed run.
_handoff: Handoff | None = None


def claim_before_fork(ident: uuid.UUID, enqueued_at: datetime | None) -> Handoff:
    """In the forking worker: claim the run on the worker's own connection."""
    global _handoff
    handoff = Handoff(ident)
    try:
        handoff.claimed = _claim(ident, _worker_name(), _aware(enqueued_at))
    except SQLAlchemyError as error:  # as before: RQ gives up, reconcile enqueues it again
        handoff.error = f"could not claim the run: {type(error).__name__}: {error}"
    _handoff = handoff
    return handoff


def horse_died(ident: uuid.UUID, reason: str) -> bool:
    """In the forking worker: the horse of a handed-off run died; True if it was one."""
    if _handoff is None or _handoff.ident != ident:
        return False
    _handoff.died = reason
    return True


def _run_handed_off(handoff: Handoff) -> None:
    """In the horse: run the claimed task and report; no database unless the task uses it."""
    if handoff.error is not None:
        raise RuntimeError(handoff.error)
    if handoff.claimed is None:
        return
    execution, job = handoff.claimed
    outcome = runs.Outcome(ExecutionStatus.FAILED, error="the run ended unexpectedly")
    ran: float | None = None
    with _app_context():
        try:
            outcome, ran = _run_task(execution, job)
        finally:
            handoff.write(outcome, ran)
            db.session.remove()  # if the task used the database


def record_after_horse(handoff: Handoff) -> None:
    """In the forking worker, once the horse exited: record what it reported, or that it died."""
    global _handoff
    _handoff = None
    reported = handoff.read()
    if handoff.claimed is None:
        return
    execution, job = handoff.claimed
    limit = current_app.config["RETRY_MAX_ABANDONED"]
    try:
        if reported is None:
            reason = handoff.died or "worker lost: the work horse ended without an outcome"
            _patiently("record a lost run", lambda: record_lost(handoff.ident, reason, limit))
            return
        outcome, ran = reported
        _record(handoff.ident, execution, job, outcome, ran)
    finally:
        db.session.remove()


def record_lost(ident: uuid.UUID, reason: str, limit: int) -> None:
    """Close a run whose horse died, if it is still running: failed, retried per policy
    (``runs.fail_lost``), counted once; commits."""
    row = db.session.get(Execution, ident)
    if row is None or row.status != ExecutionStatus.RUNNING:
        db.session.rollback()
        return
    runs.fail_lost(db.session, row, reason, utcnow(), limit)
    task = row.job.task_function.name
    db.session.commit()
    telemetry.run_ended(task, ExecutionStatus.FAILED.value, None)


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
