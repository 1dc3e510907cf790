"""The `worker` process: a small supervisor forking N RQ workers.

Each child registers as a worker instance and beats every few seconds, so a
run whose worker died is noticed within a minute, not after RQ's own sweep.
SIGTERM is passed to every child: RQ finishes the current run, then stops.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer
from rq.worker.base import BaseWorker
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from app import entrypoints, telemetry
from app.extensions import db
from app.models import InstanceRole, utcnow
from app.queues import redis_connection
from app.services.ledger import instances
from app.services.ledger.instances import WORKER_NAME_ENV, worker_name
from app.services.ledger.recurrence import JsonJob, execution_id_of
from app.version import __version__

log = logging.getLogger("almanac.worker")


class _StopsListeningFirst(BaseWorker):
    """RQ's shutdown, without a wait of up to a minute.

    RQ unsubscribes from its command channel, then joins redis-py's listener
    thread; once unsubscribed that thread waits up to 60 s for a subscription
    that never comes, and recent redis-py joins without a timeout, so SIGTERM
    sometimes took a minute (seen in the tests' teardowns). Stopping the
    listener's loop first lets the unsubscribe reply end it at once.
    """

    def unsubscribe(self) -> None:
        thread = getattr(self, "pubsub_thread", None)
        if thread is not None:
            thread._running.clear()
        super().unsubscribe()  # type: ignore[no-untyped-call]


class _ForkWorker(_StopsListeningFirst, Worker):
    """RQ's forking worker (a work horse per run), claiming and recording in the worker.

    For a run, the worker claims it on its own pooled connection before the
    fork and records the outcome the horse reports after it exits
    (``entrypoints.Handoff``): the horse runs only the task and opens no
    database connection unless the task needs one. Other jobs (webhook
    deliveries) run in the horse as RQ does it.
    """

    def execute_job(self, job: Any, queue: Any) -> None:
        ident = execution_id_of(job.id)
        if ident is None:
            super().execute_job(job, queue)
            return
        handoff = entrypoints.claim_before_fork(ident, job.enqueued_at)
        try:
            super().execute_job(job, queue)
        finally:
            entrypoints.record_after_horse(handoff)


class _SimpleWorker(_StopsListeningFirst, SimpleWorker):
    """RQ's in-process worker."""


WORKER_CLASSES: dict[str, type[BaseWorker]] = {"fork": _ForkWorker, "simple": _SimpleWorker}


class Doubling:
    """Waits that double from ``first`` up to ``cap``, back to ``first`` after a calm spell.

    Pure (no clock of its own): the caller says how long things went well
    since the last failure, so the policy is tested without sleeping.
    """

    def __init__(self, first: float = 0.5, cap: float = 30.0, calm: float = 60.0) -> None:
        self.first, self.cap, self.calm = first, cap, calm
        self._wait = first

    def next(self, calm_for: float = 0.0) -> float:
        """The next wait; ``calm_for`` seconds without a failure reset the doubling."""
        if calm_for >= self.calm:
            self._wait = self.first
        wait = self._wait
        self._wait = min(wait * 2, self.cap)
        return wait


class Supervisor:
    """Keeps ``concurrency`` worker children alive until told to stop.

    A child that dies is replaced after a wait that doubles while children
    keep dying young (Redis or the database away), so an outage costs a few
    restarts, not a storm of them; a child that lived a minute resets it.
    """

    POLL = 0.1  # how often to look for dead children while a restart is due

    def __init__(
        self,
        app: Flask,
        queues: list[str],
        target: Callable[[Flask, list[str]], None] | None = None,
    ) -> None:
        self.app = app
        self.queues = queues
        self.target = target or run_worker
        self.concurrency = int(app.config["WORKER_CONCURRENCY"])
        self.children: dict[int, float] = {}  # pid -> when it started (monotonic)
        self.restarts: list[float] = []  # when each replacement is due (monotonic)
        self.backoff = Doubling()
        self.stopping = False
        self.pid = os.getpid()

    def run(self) -> None:
        """Fork the children and wait; replace any that die unexpectedly, backing off."""
        self.pid = os.getpid()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for _ in range(self.concurrency):
            self._spawn()
        while self.children or self._restart_due():
            if self._restart_due():
                self._reap_without_blocking()
                self._restart_when_due()
            else:
                self._reap_blocking()

    def _restart_due(self) -> bool:
        return bool(self.restarts) and not self.stopping

    def _reap_blocking(self) -> None:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            self.children.clear()
            return
        self._exited(pid, status)

    def _reap_without_blocking(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self._exited(pid, status)

    def _restart_when_due(self) -> None:
        now = time.monotonic()
        due = [at for at in self.restarts if at <= now]
        self.restarts = [at for at in self.restarts if at > now]
        for _ in due:
            self._spawn()
        if self.restarts:
            time.sleep(min(self.POLL, max(min(self.restarts) - now, 0.0)))

    def _exited(self, pid: int, status: int) -> None:
        started = self.children.pop(pid, None)
        if started is None or self.stopping:
            return
        lived = time.monotonic() - started
        wait = self.backoff.next(calm_for=lived)
        log.warning(
            "worker %d exited (%s) after %.1fs; starting another in %.1fs", pid, status, lived, wait
        )
        self.restarts.append(time.monotonic() + wait)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != self.pid:  # a child signalled before it reset its handlers
            os._exit(128 + signum)
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                self.children.pop(pid, None)

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                self.target(self.app, self.queues)
            except BaseException:
                log.exception("worker crashed")
                code = 1
            os._exit(code)
        self.children[pid] = time.monotonic()
        if self.stopping:  # the stop signal came while this child was being made
            os.kill(pid, signal.SIGTERM)


def run_worker(app: Flask, queues: list[str]) -> None:
    """One RQ worker (in this process) with an instance row and a heartbeat thread."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with app.app_context():
        _fresh_pool_in_every_child()
        connection = redis_connection()
        _wait_for_redis(connection)
        name = worker_name(socket.gethostname(), os.getpid())
        os.environ[WORKER_NAME_ENV] = name
        role = InstanceRole.WORKER.value
        instance_id = instances.register(db.session, role, __version__, utcnow()).id
        db.session.remove()  # reading .id began a transaction: end it before any fork
        stop_beat = threading.Event()
        threading.Thread(target=_beat, args=(app, instance_id, stop_beat), daemon=True).start()
        worker_class = WORKER_CLASSES[app.config["WORKER_CLASS"]]
        worker = worker_class(
            queues,
            name=name.replace(":", "."),
            connection=connection,
            serializer=JSONSerializer,
            job_class=JsonJob,
            work_horse_killed_handler=_horse_killed,
        )
        try:
            worker.work(logging_level="INFO")
        finally:
            stop_beat.set()
            db.session.remove()
            instances.stop(db.session, instance_id, utcnow())


def _wait_for_redis(connection: Redis) -> None:
    """Start only once Redis answers: waiting beats crashing and being restarted in a loop."""
    backoff = Doubling()
    while True:
        try:
            connection.ping()
            return
        except (RedisError, OSError) as error:
            wait = backoff.next()
            log.warning("Redis unreachable (%s); trying again in %.1fs", error, wait)
            time.sleep(wait)


def _fresh_pool_in_every_child() -> None:
    """Drop inherited pooled connections now and in every work horse RQ forks.

    A session that holds a connection when RQ forks would hand it to the
    horse, which would talk on the worker's socket — and after a database
    restart every horse would inherit the same dead one (issue 16: no run
    succeeded until the workers were restarted). So the worker's session
    gives its connection back just before each fork, and the horse starts
    with an empty pool of its own. A horse that reused an inherited pooled
    connection would ping (or query) on the parent's socket while the
    heartbeat thread talks on it; ``dispose(close=False)`` forgets the
    parent's connections without closing them under its feet.
    """
    engine = db.engine
    engine.dispose(close=False)
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork,
        after_in_child=functools.partial(_in_the_horse, engine),
    )


# Held by the heartbeat thread while it talks to the database, and by a fork:
# no horse starts as a copy of a process caught inside the database client
# (SQLite and the pool keep process-wide locks a copy would inherit held).
_BEATING = threading.Lock()


def _before_fork() -> None:
    _BEATING.acquire()
    _release_session()


def _after_fork() -> None:
    _BEATING.release()


def _in_the_horse(engine: Engine) -> None:
    global _BEATING
    _BEATING = threading.Lock()  # the copy the horse inherited is held
    engine.dispose(close=False)
    telemetry.enter_work_horse()


def _release_session() -> None:
    """Before a fork: the session of this thread ends its transaction, returns its connection."""
    if has_app_context():
        try:
            db.session.remove()
        except Exception:  # a dead connection: the horse gets a fresh one anyway
            log.warning("could not release the session before a fork", exc_info=True)


def _beat(app: Flask, instance_id: Any, stop: threading.Event) -> None:
    """Heartbeat in its own thread, with its own session."""
    with app.app_context():
        while not stop.wait(float(app.config["HEARTBEAT_SECONDS"])):
            with _BEATING:
                try:
                    instances.beat(db.session, instance_id, utcnow())
                except OperationalError as error:  # the database is away: a line, not a trace
                    log.warning("heartbeat failed: %s", error.orig)
                except Exception:
                    log.exception("heartbeat failed")
                finally:
                    # Never let a failed clean-up end the thread: the beats must go on.
                    with contextlib.suppress(Exception):
                        db.session.remove()


def _horse_killed(job: Any, retpid: int, ret_val: int, _rusage: Any) -> None:
    """The forked horse died mid-run (OOM, kill -9): close its execution now.

    A run the worker claimed itself is closed by the worker right after
    (``entrypoints.record_after_horse``), with this reason unless the horse
    had reported its outcome before it died.
    """
    execution_id = execution_id_of(job.id)
    if execution_id is None:
        return
    reason = f"worker lost: work horse {retpid} died (status {ret_val})"
    if entrypoints.horse_died(execution_id, reason):
        return
    entrypoints.record_lost(execution_id, reason, current_app.config["RETRY_MAX_ABANDONED"])
    db.session.remove()
