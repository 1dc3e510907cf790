"""Error groups: one key for failures that share a cause, whatever ids or numbers they carry.

"TimeoutError: read 4312 bytes from 10.0.0.7 for job 3f2a…" and the same error
with other numbers read as one line on the failed-tasks page. The key keeps the
exception type and the message's words, and replaces what varies from one
failure to the next: quoted values, ids (UUIDs), hex (addresses, digests) and
numbers. Pure and framework-free, so the model can compute it on assignment.
"""

from __future__ import annotations

import re

MAX_KEY = 255
# Order matters: quoted values first (they may hold ids and numbers), then ids
# before hex (a UUID is hex), then hex before plain numbers.
_REPLACEMENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"'[^']*'|\"[^\"]*\"|\u201c[^\u201d]*\u201d|\u2018[^\u2019]*\u2019"), "'…'"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<id>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(?:[.,:]\d+)*"), "<n>"),
    (re.compile(r"\s+"), " "),
)
_TYPE = re.compile(r"^([A-Za-z_][\w.]*):\s")


def group_key(message: str | None) -> str | None:
    """The normalised form of an error message (None for none)."""
    if not message:
        return None
    key = message
    for pattern, replacement in _REPLACEMENTS:
        key = pattern.sub(replacement, key)
    return key.strip()[:MAX_KEY]


def split_type(key: str | None) -> tuple[str, str]:
    """("RuntimeError", "the message") for "RuntimeError: the message"; ("", key) when untyped."""
    if not key:
        return "", ""
    match = _TYPE.match(key)
    if match is None:
        return "", key
    return match.group(1), key[match.end() :]
