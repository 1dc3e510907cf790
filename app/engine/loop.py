"""What the long-running loops share: a stop request that SIGTERM and SIGINT make.

A signal handler runs on the main thread between two bytecodes, possibly while
that thread holds a lock. ``threading.Event.set()`` takes the lock that
``Event.wait()`` holds for part of its wait, so setting an Event from a handler
can deadlock the process for good (python/cpython#126434 has the
multiprocessing twin). Here the handler touches no lock: it sets a flag and
writes a byte to a pipe, and the loop sleeps in ``select`` on that pipe.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from types import FrameType


class GracefulLoop:
    """A loop that finishes its current pass when asked (or signalled) to stop.

    One per process: the wake-up pipe lives as long as the process does.
    """

    def __init__(self) -> None:
        self._stop_requested = False
        self._signal: int | None = None
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called or a stop signal arrived."""
        return self._stop_requested

    def stop(self, *_: object) -> None:
        """Ask the loop to finish its pass and exit; safe from any thread or handler."""
        self._stop_requested = True
        with contextlib.suppress(BlockingIOError):  # a full pipe already wakes the sleeper
            os.write(self._wake_write, b"\0")

    def pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``; return at once when a stop is asked for."""
        if not self._stop_requested:
            select.select([self._wake_read], [], [], seconds)

    def stop_reason(self) -> str:
        """Why the loop stopped, for its last log line."""
        if self._signal is not None:
            return f"on {signal.Signals(self._signal).name}"
        return "when asked" if self._stop_requested else "on an error"

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the loop gracefully."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # No logging here: a handler that writes to a stream the main thread is
        # writing to raises "reentrant call"; the loop logs stop_reason() at the end.
        self._signal = signum
        self.stop()
