"""The `retry` process: turn due retry items into new attempts; send due webhook events out.

Run as many as you like: each claims rows atomically (``services.claims``), so
no row is taken twice, and a claim whose process died is handed back after
``RETRY_CLAIM_TIMEOUT_SECONDS``. Everything it acts on lives in the database;
it only adds work to RQ queues, so a flushed Redis loses nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import Counter
from datetime import datetime, timedelta

from flask import Flask
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.engine.loop import GracefulLoop
from app.extensions import db
from app.models import InstanceRole, utcnow
from app.queues import recurrence
from app.services.events import deliveries
from app.services.failures import retry_queue
from app.services.ledger import instances
from app.version import __version__

log = logging.getLogger("almanac.retry")
SWEEP_EVERY = timedelta(seconds=5)


class RetryProcess(GracefulLoop):
    """One retry process; ``run()`` loops until ``stop()`` (or SIGTERM)."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app
        config = app.config
        self.poll = float(config["RETRY_POLL_SECONDS"])
        self.batch = int(config["RETRY_BATCH_SIZE"])
        self.claim_timeout = timedelta(seconds=float(config["RETRY_CLAIM_TIMEOUT_SECONDS"]))
        self.beat_every = timedelta(seconds=float(config["HEARTBEAT_SECONDS"]))
        self.delivery = deliveries.DeliverySettings.from_config(config)
        self.name = f"retry:{socket.gethostname()}:{os.getpid()}"
        self.stats: Counter[str] = Counter()
        self._next_beat = self._next_sweep = datetime.min.replace(tzinfo=utcnow().tzinfo)
        self.instance_id: uuid.UUID | None = None

    def run(self) -> None:
        """Loop: heartbeat, sweep, launch due retries, queue due deliveries."""
        with self.app.app_context():
            self.recurrence = recurrence()
            instance = instances.register(
                db.session, InstanceRole.RETRY.value, __version__, utcnow()
            )
            self.instance_id = instance.id
            log.info("retry process %s started (poll %.2fs)", self.name, self.poll)
            try:
                while not self.stopping:
                    busy = self._pass()
                    if not busy:
                        self.pause(self.poll)
            finally:
                self._shutdown()

    def _pass(self) -> bool:
        """One iteration; True when it found work (so the next starts at once)."""
        try:
            now = utcnow()
            self._beat(now)
            self._sweep(now)
            return self.launch_due(now) + self.dispatch_due(now) > 0
        except IntegrityError:
            # Only a broken claim could get here (the retry's row is unique): say so loudly.
            log.exception("a retry was launched twice and refused by the database")
            self.stats["conflicts"] += 1
        except (SQLAlchemyError, RedisError, OSError):
            log.exception("retry pass failed (database or Redis); retrying")
        db.session.rollback()
        self.pause(min(self.poll * 2, 2.0))
        return False

    def _beat(self, now: datetime) -> None:
        if now >= self._next_beat and self.instance_id is not None:
            instances.beat(db.session, self.instance_id, now)
            self._next_beat = now + self.beat_every

    def _sweep(self, now: datetime) -> None:
        """Hand back dead claims, drop orphans, revive lost deliveries."""
        if now < self._next_sweep:
            return
        counts = {
            "reclaimed": retry_queue.reclaim_stale(db.session, now, self.claim_timeout),
            "orphans discarded": retry_queue.discard_orphans(db.session, now),
            "deliveries revived": deliveries.sweep_lost(db.session, now, self.delivery),
        }
        db.session.commit()
        self._next_sweep = now + SWEEP_EVERY
        changed = {what: n for what, n in counts.items() if n}
        if changed:
            log.info("sweep: %s", ", ".join(f"{what}: {n}" for what, n in changed.items()))

    def launch_due(self, now: datetime) -> int:
        """Claim one batch of due retry items and start their next attempts."""
        claimed = retry_queue.claim_due(db.session, self.name, now, self.batch)
        db.session.commit()
        if not claimed:
            return 0
        self.stats["claimed"] += len(claimed)
        launched = retry_queue.launch(db.session, claimed, self.name, utcnow())
        db.session.commit()
        self.stats["launched"] += len(launched.executions)
        # After the commit: a lost enqueue is a queued run reconcile re-enqueues.
        self.recurrence.apply(None, enqueue=launched.arms)
        log.info("launched %d retries", len(launched.executions))
        return len(claimed)

    def dispatch_due(self, now: datetime) -> int:
        """Queue one batch of due webhook deliveries for the workers."""
        ids = deliveries.dispatch_due(db.session, now, self.batch)
        db.session.commit()
        if ids:
            self.recurrence.enqueue_deliveries(ids, self.delivery.timeout)
            self.stats["deliveries queued"] += len(ids)
        return len(ids)

    def _shutdown(self) -> None:
        db.session.rollback()
        if self.instance_id is not None:
            instances.stop(db.session, self.instance_id, utcnow())
        summary = ", ".join(f"{what} {n}" for what, n in sorted(self.stats.items()))
        reason = self.stop_reason()
        log.info("retry process %s stopped %s: %s", self.name, reason, summary or "nothing done")
