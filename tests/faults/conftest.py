"""Fault scenarios: real processes, a real fault, then what the ledger says.

Each scenario records its figures (recovery time, duplicates, lost, stuck)
with ``record``; ``make faults`` collects them in ``FAULTS_REPORT`` and
``scripts/fault_table.py`` prints the table. The quick scenarios run in the
normal suite too; the long ones only under ``make faults`` (``ALMANAC_FAULTS``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="PostgreSQL only: SQLite has no server connections to kill"
)
faults_only = pytest.mark.skipif(
    not os.environ.get("ALMANAC_FAULTS"),
    reason="long fault scenario: run by `make faults` (ALMANAC_FAULTS=1)",
)


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``record(scenario, recovery=…, duplicates=…, lost=…, stuck=…)`` for `make faults`."""

    def write(scenario: str, **figures: Any) -> None:
        path = os.environ.get("FAULTS_REPORT")
        if path:
            line = {"test": request.node.nodeid, "scenario": scenario} | figures
            with open(path, "a") as report:
                report.write(json.dumps(line) + "\n")

    return write
