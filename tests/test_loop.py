"""The graceful stop the scheduler and retry processes share (app/engine/loop.py)."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import threading
import time

from app.engine.loop import GracefulLoop
from tests.engine import ROOT

ROUNDS = 60
# Busy-loops on pause(0), so SIGTERM lands anywhere, also where a lock is held.
CHILD = f"""
from app.engine.loop import GracefulLoop
for _ in range({ROUNDS}):
    loop = GracefulLoop()
    loop.install_signal_handlers()
    print("ready", flush=True)
    while not loop.stopping:
        loop.pause(0)
    print(loop.stop_reason(), flush=True)
"""


def test_sigterm_always_stops_the_loop():
    """A threading.Event set from the handler deadlocked about half these rounds."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=ROOT, stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        for round_ in range(ROUNDS):
            assert _line(child, 30) == "ready"
            time.sleep(random.uniform(0, 0.01))
            child.send_signal(signal.SIGTERM)
            assert _line(child, 5) == "on SIGTERM", f"round {round_}: the loop did not stop"
        assert child.wait(10) == 0
    finally:
        child.kill()
        child.wait()


def test_stop_from_another_thread_ends_a_pause_at_once():
    loop = GracefulLoop()
    threading.Timer(0.2, loop.stop).start()
    started = time.monotonic()
    loop.pause(60)
    assert loop.stopping and time.monotonic() - started < 30
    assert loop.stop_reason() == "when asked"
    loop.pause(60)  # a stopped loop never sleeps again
    assert time.monotonic() - started < 30


def test_a_pause_without_a_stop_sleeps_its_time():
    loop = GracefulLoop()
    started = time.monotonic()
    loop.pause(0.3)
    assert time.monotonic() - started >= 0.3
    assert not loop.stopping and loop.stop_reason() == "on an error"


def _line(child: subprocess.Popen[bytes], timeout: float) -> str:
    """One line of the child's output, or "" if none comes within ``timeout``."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return ""
        chunk = os.read(fd, 1)
        if not chunk:
            return ""
        data += chunk
    return data.decode().strip()
