"""What the long-running loops share: a stop flag that SIGTERM and SIGINT set."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger("almanac.engine")


class GracefulLoop:
    """A loop that finishes its current pass when asked (or signalled) to stop."""

    def __init__(self) -> None:
        self.stopping = threading.Event()

    def stop(self, *_: object) -> None:
        """Ask the loop to finish its pass and exit."""
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the loop gracefully."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping after this pass", signum)
        self.stop()
