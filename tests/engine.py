"""Real scheduler and worker processes for integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redis import Redis

from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent
FAST = {
    "SCHEDULER_POLL_SECONDS": "0.1",
    "RECONCILE_SECONDS": "3",
    "LEASE_SECONDS": "2",
    "HEARTBEAT_SECONDS": "0.5",
    "WORKER_LOST_SECONDS": "3",
    "WORKER_CONCURRENCY": "2",
    "SECRET_KEY": "test-secret-key",
    "ALLOWED_OUTBOUND_NETWORKS": "127.0.0.1/32",
    "RETRY_POLL_SECONDS": "0.1",
    "RETRY_CLAIM_TIMEOUT_SECONDS": "3",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "WEBHOOK_MAX_ATTEMPTS": "3",
}


class Engine:
    """Starts, signals and stops Almanac processes against the test database and Redis."""

    def __init__(self, database_url: str, redis_url: str, tmp: Path) -> None:
        self.env = (
            os.environ
            | FAST
            | {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "ALMANAC_INSTANCE": str(tmp),
            }
        )
        self.tmp = tmp
        self.redis = Redis.from_url(redis_url)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.log_paths: dict[int, Path] = {}

    def start(self, script: str, **env: str) -> subprocess.Popen[bytes]:
        """Start ``scheduler.py`` or ``worker.py``; output goes to a log file."""
        path = self.tmp / f"{script}.{len(self.processes)}.log"
        log = open(path, "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, str(ROOT / script)],
            cwd=ROOT,
            env=self.env | env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        self.log_paths[process.pid] = path
        return process

    def scheduler(self, **env: str) -> subprocess.Popen[bytes]:
        return self.start("scheduler.py", **env)

    def worker(self, **env: str) -> subprocess.Popen[bytes]:
        return self.start("worker.py", **env)

    def retry(self, **env: str) -> subprocess.Popen[bytes]:
        return self.start("retry.py", **env)

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 15) -> int:
        """SIGTERM and wait (the graceful path); a process that hangs fails with the logs."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            script = Path(str(process.args[-1])).name
            logs = self.logs()
            raise AssertionError(f"{script} ignored SIGTERM for {timeout}s:\n{logs}") from None

    def stop_all(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left: no orphan may
        outlive a test and steal the next test's jobs from the shared Redis."""
        for process in self.processes:
            _signal_group(process, signal.SIGTERM)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(15)
            _signal_group(process, signal.SIGKILL)
            process.wait(5)

    def log_of(self, process: subprocess.Popen[bytes]) -> Path:
        """The file that one process's output goes to."""
        return self.log_paths[process.pid]

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.tmp.glob("*.log"))


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


# A wait's timeout only bounds how long a broken test hangs; it measures nothing. `make test`
# runs three suites at once on two cores, and real processes then start several times slower
# than alone, so every timeout is stretched (TEST_TIMEOUT_SCALE=1 gives the written figures).
TIMEOUT_SCALE = float(os.environ.get("TEST_TIMEOUT_SCALE", "3"))


def wait_for(predicate: Callable[[], Any], timeout: float, message: Any = "") -> Any:
    """Poll ``predicate`` (with a fresh session view) until truthy or fail."""
    timeout *= TIMEOUT_SCALE
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s: {detail}")
        time.sleep(0.1)
