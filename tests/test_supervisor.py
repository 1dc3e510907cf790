"""The worker supervisor replaces dead children, backing off while they keep dying young."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from app.engine.workers import Doubling
from tests.engine import ROOT


def test_waits_double_up_to_the_cap():
    backoff = Doubling(first=0.5, cap=30.0, calm=60.0)
    assert [backoff.next() for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_a_calm_minute_resets_the_waits():
    backoff = Doubling(first=0.5, cap=30.0, calm=60.0)
    assert [backoff.next(calm_for=5) for _ in range(4)] == [0.5, 1, 2, 4]
    assert backoff.next(calm_for=59.9) == 8
    assert backoff.next(calm_for=60) == 0.5
    assert backoff.next(calm_for=1) == 1


# A supervisor whose children die at once, as when Redis is away at start:
# each start appends a line, so the file counts the starts.
CRASHING = """
import sys
from app import create_app
from app.engine.workers import Supervisor

def crash(_app, _queues):
    with open(sys.argv[1], "a") as starts:
        starts.write("started\\n")
    raise SystemExit(1)

Supervisor(create_app({"WORKER_CONCURRENCY": 2}), ["default"], target=crash).run()
"""


def test_children_that_keep_dying_are_restarted_with_growing_waits(tmp_path):
    starts = tmp_path / "starts"
    env = os.environ | {
        "SECRET_KEY": "test",
        "ALMANAC_INSTANCE": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
    }
    supervisor = subprocess.Popen(
        [sys.executable, "-c", CRASHING, str(starts)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not starts.exists() and time.monotonic() < deadline:  # the app is built first
        time.sleep(0.05)
    time.sleep(4)
    supervisor.send_signal(signal.SIGTERM)
    _, err = supervisor.communicate(timeout=10)
    count = len(starts.read_text().splitlines())
    # 2 at once, then after waits of 0.5, 1, 2 (then 4, 8): 5 starts in 4 s; with no wait, hundreds.
    assert 4 <= count <= 7, (count, err.decode()[-2000:])
    assert supervisor.returncode == 0
    assert b"starting another in 0.5s" in err and b"starting another in 2.0s" in err
