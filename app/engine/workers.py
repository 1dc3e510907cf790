"""The `worker` process: a small supervisor forking N RQ workers.

Each child registers as a worker instance and beats every few seconds, so a
run whose worker died is noticed within a minute, not after RQ's own sweep.
SIGTERM is passed to every child: RQ finishes the current run, then stops.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType
from typing import Any

from flask import Flask, current_app
from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer
from rq.worker.base import BaseWorker

from app import __version__
from app.extensions import db
from app.models import Execution, ExecutionStatus, InstanceRole, utcnow
from app.queues import redis_connection
from app.services import instances, runs
from app.services.instances import WORKER_NAME_ENV, worker_name
from app.services.recurrence import JsonJob, execution_id_of

log = logging.getLogger("almanac.worker")
WORKER_CLASSES: dict[str, type[BaseWorker]] = {"fork": Worker, "simple": SimpleWorker}


class Supervisor:
    """Keeps ``concurrency`` worker children alive until told to stop."""

    def __init__(self, app: Flask, queues: list[str]) -> None:
        self.app = app
        self.queues = queues
        self.concurrency = int(app.config["WORKER_CONCURRENCY"])
        self.children: set[int] = set()
        self.stopping = False

    def run(self) -> None:
        """Fork the children and wait; replace any that die unexpectedly."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for _ in range(self.concurrency):
            self._spawn()
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            self.children.discard(pid)
            if not self.stopping:
                log.warning("worker %d exited (%s); starting another", pid, status)
                self._spawn()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                self.children.discard(pid)

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                run_worker(self.app, self.queues)
            except BaseException:
                log.exception("worker crashed")
                code = 1
            os._exit(code)
        self.children.add(pid)


def run_worker(app: Flask, queues: list[str]) -> None:
    """One RQ worker (in this process) with an instance row and a heartbeat thread."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with app.app_context():
        _fresh_pool_in_every_child()
        name = worker_name(socket.gethostname(), os.getpid())
        os.environ[WORKER_NAME_ENV] = name
        role = InstanceRole.WORKER.value
        instance_id = instances.register(db.session, role, __version__, utcnow()).id
        stop_beat = threading.Event()
        threading.Thread(target=_beat, args=(app, instance_id, stop_beat), daemon=True).start()
        worker_class = WORKER_CLASSES[app.config["WORKER_CLASS"]]
        worker = worker_class(
            queues,
            name=name.replace(":", "."),
            connection=redis_connection(),
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


def _fresh_pool_in_every_child() -> None:
    """Drop inherited pooled connections now and in every work horse RQ forks.

    The pool's pre-ping runs before any checkout hook, so a horse that reused
    an inherited connection would ping on the parent's socket while the
    heartbeat thread talks on it, and break both. ``dispose(close=False)``
    forgets the parent's connections without closing them under its feet.
    """
    engine = db.engine
    engine.dispose(close=False)
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))


def _beat(app: Flask, instance_id: Any, stop: threading.Event) -> None:
    """Heartbeat in its own thread, with its own session."""
    with app.app_context():
        while not stop.wait(float(app.config["HEARTBEAT_SECONDS"])):
            try:
                instances.beat(db.session, instance_id, utcnow())
            except Exception:
                log.exception("heartbeat failed")
                db.session.rollback()
            finally:
                db.session.remove()


def _horse_killed(job: Any, retpid: int, ret_val: int, _rusage: Any) -> None:
    """The forked horse died mid-run (OOM, kill -9): close its execution now."""
    execution_id = execution_id_of(job.id)
    if execution_id is None:
        return
    row = db.session.get(Execution, execution_id)
    if row is not None and row.status == ExecutionStatus.RUNNING:
        reason = f"worker lost: work horse {retpid} died (status {ret_val})"
        runs.fail_lost(db.session, row, reason, utcnow(), current_app.config["RETRY_MAX_ABANDONED"])
        db.session.commit()
    db.session.remove()
