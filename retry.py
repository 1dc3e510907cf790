"""The `retry` process: starts the next attempt of failed runs when their backoff is over,
and queues webhook deliveries for the workers.

Run several if you like: rows are claimed atomically, never twice.
SIGTERM: finish the current pass, stop.
"""

from __future__ import annotations

from app import create_app
from app.engine.retrier import RetryProcess


def main() -> None:
    """Run one retry process until SIGTERM."""
    process = RetryProcess(create_app())
    process.install_signal_handlers()
    process.run()


if __name__ == "__main__":
    main()
