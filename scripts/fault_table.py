"""Print the fault scenarios' figures as a table: `make faults` runs it after the tests.

Usage: python scripts/fault_table.py FIGURES.jsonl JUNIT.xml

FIGURES.jsonl has one line per scenario that reached its measurement
(tests/faults/conftest.py ``record``); the JUnit report says which tests
passed, failed or were skipped, so a scenario that failed before measuring
still gets its row.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

COLUMNS = ("scenario", "result", "recovery", "duplicates", "lost", "stuck", "also")
MAIN = {"test", "scenario", "recovery", "duplicates", "lost", "stuck"}


def outcomes(junit: Path) -> dict[str, str]:
    """Test node id -> passed / failed / skipped."""
    results = {}
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 (our own report)
        module = case.get("classname", "").replace(".", "/")
        node = f"{module}.py::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            results[node] = "FAILED"
        elif case.find("skipped") is not None:
            results[node] = "skipped"
        else:
            results[node] = "passed"
    return results


def rows(figures: Path, junit: Path) -> list[dict[str, str]]:
    """One row per scenario: its figures and its test's result."""
    results = outcomes(junit)
    measured = [json.loads(line) for line in figures.read_text().splitlines() if line.strip()]
    table = []
    for entry in measured:
        recovery = entry.get("recovery")
        table.append(
            {
                "scenario": entry["scenario"],
                "result": results.pop(entry["test"], "?"),
                "recovery": "—" if recovery is None else f"{recovery:.1f} s",
            }
            | {key: str(entry.get(key, "—")) for key in ("duplicates", "lost", "stuck")}
            | {"also": ", ".join(f"{k} {v}" for k, v in entry.items() if k not in MAIN)}
        )
    for node, result in results.items():  # scenarios that ended before measuring
        if result != "passed":
            table.append({"scenario": node.split("::")[-1], "result": result})
    return table


def render(table: list[dict[str, str]]) -> str:
    widths = {c: max([len(c)] + [len(r.get(c, "—")) for r in table]) for c in COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS).rstrip()]
    lines.append("  ".join("-" * widths[c] for c in COLUMNS))
    lines += ["  ".join(r.get(c, "—").ljust(widths[c]) for c in COLUMNS).rstrip() for r in table]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    figures, junit = Path(argv[1]), Path(argv[2])
    if not junit.exists():
        print(f"no test report at {junit}: did the tests run?", file=sys.stderr)
        return 1
    if not figures.exists():
        figures.write_text("")
    print(render(rows(figures, junit)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
