"""Gunicorn settings beyond the Procfile's command line: metrics bookkeeping only.

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) each gunicorn worker writes
its figures to files in that directory; when one exits, its live gauges must
leave the scrape (prometheus_client's ``mark_process_dead``). Counters stay.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import multiprocess


def child_exit(_server: Any, worker: Any) -> None:
    """A gunicorn worker ended: forget its live gauges."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        multiprocess.mark_process_dead(worker.pid, path)
