"""The `scheduler` process: fires due slots on time, arms the next, reconciles Redis.

Run several for high availability: one leads through a fenced lease, the
others stand by. SIGTERM: finish the current pass, hand the lease back, stop.
"""

from __future__ import annotations

from app import create_app
from app.engine.scheduler import SchedulerProcess


def main() -> None:
    """Run one scheduler instance until SIGTERM."""
    process = SchedulerProcess(create_app())
    process.install_signal_handlers()
    process.run()


if __name__ == "__main__":
    main()
