"""What the services check, said in JSON Schema: one source for the checks and the document.

Each value here is built from the constant the service itself checks against
(``limits``, ``timemath``, the task registry), so the OpenAPI document cannot
promise more than the server accepts. Request models attach these as schema
metadata; the checks that produce the error messages stay where they are.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from annotated_types import Ge, GroupedMetadata, Le
from pydantic import BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app import timemath
from app.services import limits

# Where a shared schema is hoisted to by spec.py (``x-component`` names it).
COMPONENT_KEY = "x-component"


def digit_range_pattern(low: int, high: int, width: int = 4) -> str:
    """A regex alternation matching exactly the zero-padded numbers ``low``..``high``."""
    pieces: list[list[Any]] = []  # [head, first digit, last digit, free digits]
    number = low
    while number <= high:
        free = 0
        while (
            free + 1 < width
            and number % 10 ** (free + 1) == 0
            and number + 10 ** (free + 1) - 1 <= high
        ):
            free += 1
        digits = str(number).zfill(width)
        head, digit = digits[: width - free - 1], int(digits[width - free - 1])
        last = pieces[-1] if pieces else None
        if last and last[0] == head and last[3] == free and last[2] == digit - 1:
            last[2] = digit
        else:
            pieces.append([head, digit, digit, free])
        number += 10**free
    return "|".join(_piece(*piece) for piece in pieces)


def _piece(head: str, first: int, last: int, free: int) -> str:
    digit = str(first) if first == last else f"[{first}-{last}]"
    tail = "" if free == 0 else "[0-9]" if free == 1 else f"[0-9]{{{free}}}"
    return head + digit + tail


# An RFC 3339 date-time starts with its four-digit year: the years the server accepts.
INSTANT_PATTERN = f"^(?:{digit_range_pattern(timemath.MIN_YEAR, timemath.MAX_YEAR)})-"
INSTANT_SCHEMA: dict[str, Any] = {
    "pattern": INSTANT_PATTERN,
    "description": (
        f"An RFC 3339 date-time in the years {timemath.MIN_YEAR} to {timemath.MAX_YEAR}."
    ),
}
PRINTABLE_SCHEMA: dict[str, Any] = {
    "pattern": limits.PRINTABLE_PATTERN,
    "description": "No control characters (tab and newlines are allowed).",
}
TASK_NAME_SCHEMA: dict[str, Any] = {
    "description": (
        "The name of a registered task: GET /api/v1/task-functions lists them "
        "(operation `task_functions`). A name not of this pattern is refused with "
        "422; so is a job naming an unregistered task (a filter naming one matches "
        "nothing)."
    ),
}
EXPRESSION_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1}


@functools.cache
def timezone_names() -> list[str]:
    """The IANA zones the server accepts, sorted (host-dependent aliases left out)."""
    return sorted(timemath.known_timezones())


def timezone_schema() -> dict[str, Any]:
    """JSON Schema metadata of a time zone field: an enum hoisted into one component."""
    return {
        "enum": timezone_names(),
        "description": "An IANA time zone name such as Europe/Berlin.",
        COMPONENT_KEY: "Timezone",
    }


def schedule_config_schema() -> dict[str, Any]:
    """The three shapes of scheduleConfig; which one applies depends on jobType."""
    units = ("weeks", "days", "hours", "minutes", "seconds")
    return {
        "description": (
            "interval: {weeks, days, hours, minutes, seconds} (whole numbers, "
            "1 second to 366 days in total); cron: {expression} (five fields); date: "
            "{runAt} (a local time without offset). The shape must match jobType."
        ),
        "oneOf": [
            {
                "title": "IntervalConfig",
                "type": "object",
                "properties": {unit: {"type": "integer", "minimum": 0} for unit in units},
                "additionalProperties": False,
                "minProperties": 1,
            },
            {
                "title": "CronConfig",
                "type": "object",
                "properties": {"expression": EXPRESSION_SCHEMA},
                "required": ["expression"],
                "additionalProperties": False,
            },
            {
                "title": "DateConfig",
                "type": "object",
                "properties": {
                    "runAt": {
                        "type": "string",
                        "pattern": (
                            f"^(?:{digit_range_pattern(timemath.MIN_YEAR, timemath.MAX_YEAR)})"
                            r"-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?$"
                        ),
                    }
                },
                "required": ["runAt"],
                "additionalProperties": False,
            },
        ],
    }


def _whole(value: Any) -> Any:
    """A JSON number with no fraction (55.0) is a whole number, as JSON Schema says."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Whole(GroupedMetadata):
    """``Annotated[int, Whole(limits.Range)]``: bounds from the limits table; 55.0 counts as 55."""

    def __init__(self, bounds: limits.Range) -> None:
        self.bounds = bounds

    def __iter__(self) -> Iterator[Any]:
        # Bounds first, so they land in the integer's own schema (minimum/maximum).
        yield Ge(self.bounds.low)
        yield Le(self.bounds.high)
        yield BeforeValidator(_whole)


class Documented:
    """``Annotated[T, Documented({...})]`` adds JSON Schema keywords to T's schema, wherever T sits.

    Unlike ``Field(json_schema_extra=...)`` it also applies inside ``T | None``.
    """

    def __init__(self, extra: dict[str, Any]) -> None:
        self.extra = extra

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """T's schema with the extra keywords."""
        schema = handler(core_schema)
        schema.update(self.extra)
        return schema
