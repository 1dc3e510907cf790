"""The value limits of a job's fields: one table read by the service checks and the API schemas.

The API's pydantic models build their ``Field(ge=…, le=…)`` constraints (and
so the OpenAPI document) from these values; ``job_fields`` checks the same
values for every other door (forms, CLI), so the two can never drift apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from app.i18n import _


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of a whole number (or of a text's length)."""

    low: int
    high: int


# Whole-number job fields: seconds unless the name says otherwise.
JOB_NUMBERS: dict[str, Range] = {
    "jitter_seconds": Range(0, 3600),
    "max_instances": Range(1, 100),
    "misfire_grace_seconds": Range(0, 604_800),
    "timeout_seconds": Range(1, 86_400),
    "retry_count": Range(0, 100),
    "retry_delay_seconds": Range(0, 86_400),
    "retry_max_delay_seconds": Range(0, 604_800),
    "retry_jitter_seconds": Range(0, 3600),
    "max_consecutive_failures": Range(0, 1000),
}
NAME_LENGTH = Range(1, 200)
DESCRIPTION_LENGTH = Range(0, 1000)
TIMEZONE_LENGTH = Range(1, 64)
TASK_FUNCTION_NAME_LENGTH = Range(0, 100)
PAUSE_REASON_LENGTH = Range(0, 500)
# Row ids of the lookup tables are 32-bit integers.
LOOKUP_ID = Range(1, 2**31 - 1)
# How far back a manual history cleanup may reach, in days.
HISTORY_DAYS = Range(1, 3650)
# How many fire times a schedule preview lists at most.
PREVIEW_COUNT = Range(1, 100)
QUEUE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,49}$"
# Arguments are stored with the job and copied into every run's payload.
TASK_ARGS_MAX_BYTES = 64 * 1024


# Control characters other than tab and newlines (a NUL would even break PostgreSQL);
# the check and the API document's ``pattern`` are both built from this class.
_CONTROL_CLASS = r"\x00-\x08\x0b\x0c\x0e-\x1f"
_CONTROL = re.compile(f"[{_CONTROL_CLASS}]")
# Bidi embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069): they make
# a name read differently from what it is ("Trojan Source"). The marks U+200E/U+200F stay.
_BIDI_CLASS = r"\u202a-\u202e\u2066-\u2069"
_BIDI = re.compile(f"[{_BIDI_CLASS}]")
PRINTABLE_PATTERN = f"^[^{_CONTROL_CLASS}{_BIDI_CLASS}]*$"


def has_control_characters(text: str) -> bool:
    """Control characters other than tab and newlines."""
    return _CONTROL.search(text) is not None


def has_bidi_controls(text: str) -> bool:
    """True when ``text`` holds a bidi embedding, override or isolate control."""
    return _BIDI.search(text) is not None


def character_problem(text: str) -> str | None:
    """Why a short text's characters are refused (control or bidi controls), or None."""
    if has_control_characters(text):
        return _("must not contain control characters")
    if has_bidi_controls(text):
        return _("must not contain bidirectional override, embedding or isolate characters")
    return None


def number_problem(field: str, value: Any) -> str | None:
    """Why a whole-number field's value is refused, or None when it fits."""
    bounds = JOB_NUMBERS[field]
    if not isinstance(value, int) or isinstance(value, bool):
        return _("must be a whole number")
    if not bounds.low <= value <= bounds.high:
        return _("must be between {low} and {high}").format(low=bounds.low, high=bounds.high)
    return None


def text_problem(value: Any, bounds: Range, *, required: bool = False) -> str | None:
    """Why a text field's value is refused (type, length, control characters), or None."""
    if not isinstance(value, str):
        return _("must be text")
    if required and not value.strip():
        return _("must not be blank")
    if not bounds.low <= len(value) <= bounds.high:
        return _("must have {low} to {high} characters").format(low=bounds.low, high=bounds.high)
    return character_problem(value)


def task_args_problem(args: Any) -> str | None:
    """Why the task arguments are too large to store, or None."""
    size = len(json.dumps(args, separators=(",", ":"), default=str).encode())
    if size > TASK_ARGS_MAX_BYTES:
        return _("must be at most {limit} bytes as JSON").format(limit=TASK_ARGS_MAX_BYTES)
    return None
