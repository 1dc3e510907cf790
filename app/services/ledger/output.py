"""What a task run leaves behind: its output, bounded, and a result the ledger can store."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any


class BoundedBuffer(io.StringIO):
    """Keeps at most ``limit`` characters of output, noting what was cut."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.dropped = 0

    def write(self, text: str) -> int:
        room = self.limit - self.tell()
        if room > 0:
            super().write(text[:room])
        self.dropped += max(len(text) - max(room, 0), 0)
        return len(text)

    def getvalue(self) -> str:
        value = super().getvalue()
        return value + (f"\n… {self.dropped} more characters not kept" if self.dropped else "")


@contextlib.contextmanager
def capture(buffer: BoundedBuffer) -> Iterator[None]:
    """Route the task's prints and log records into the buffer."""
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield
    finally:
        root.removeHandler(handler)


def jsonable(value: Any) -> Any:
    """A result the JSON column can hold (anything else becomes its repr)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return repr(value)[:10_000]


def http_status(result: Any) -> int | None:
    status = result.get("status") if isinstance(result, dict) else None
    return status if isinstance(status, int) else None


__all__ = ["BoundedBuffer", "capture", "http_status", "jsonable"]
