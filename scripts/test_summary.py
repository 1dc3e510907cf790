"""Print one line per pytest run of `make test` from its JUnit reports, and a total.

CI logs are long and often cut: the last lines then still say how many tests ran.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(paths: list[str]) -> int:
    """Summarise the given JUnit XML files; exit 1 if none holds a test."""
    total = 0
    for path in sorted(paths):
        suite = ET.parse(path).getroot()  # noqa: S314 (our own pytest reports)
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        if suite is None:
            continue
        counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
        total += counts["tests"]
        passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
        print(
            f"==> {Path(path).stem}: {counts['tests']} tests, {passed} passed, "
            f"{counts['failures']} failed, {counts['errors']} errors, {counts['skipped']} skipped"
        )
    print(f"==> {total} tests ran in all")
    return 0 if total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
