"""Task arguments as real form fields, built from the task's JSON-Schema ``args_schema``.

Each property becomes one input named ``arg-<name>``: text, number, checkbox,
select, one-per-line list, or JSON for free objects. Properties marked
``"writeOnly": true`` are sensitive: their stored value is never rendered,
and an empty submit keeps it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

PREFIX = "arg-"
_MISSING = object()


@dataclass
class ArgField:
    """One task argument as the form shows it."""

    name: str
    kind: str  # text | number | checkbox | select | lines | json
    description: str = ""
    required: bool = False
    sensitive: bool = False
    choices: list[str] = field(default_factory=list)
    integer: bool = False
    value: str = ""  # what the input shows (never a sensitive value)
    checked: bool = False
    is_set: bool = False  # a sensitive value is stored (shown as "set")
    error: str = ""

    @property
    def input_name(self) -> str:
        """The input's name and id suffix."""
        return PREFIX + self.name


def _kind(schema: Mapping[str, Any]) -> tuple[str, bool]:
    """The input kind of one property schema, and whether numbers are whole."""
    kind = schema.get("type")
    if "enum" in schema:
        return "select", False
    if kind == "string":
        return "text", False
    if kind in ("integer", "number"):
        return "number", kind == "integer"
    if kind == "boolean":
        return "checkbox", False
    items = schema.get("items") or {}
    if kind == "array" and items.get("type") in ("string", "integer", "number"):
        return "lines", items.get("type") == "integer"
    return "json", False


def sensitive_names(schema: Mapping[str, Any] | None) -> set[str]:
    """Names of the properties marked ``writeOnly`` (never shown back)."""
    properties = (schema or {}).get("properties") or {}
    return {name for name, spec in properties.items() if spec.get("writeOnly")}


def hide_sensitive(args: Any, schema: Mapping[str, Any] | None) -> Any:
    """``args`` with the values of sensitive properties replaced by a mask."""
    if not isinstance(args, dict):
        return args
    hidden = sensitive_names(schema)
    return {key: ("••••••" if key in hidden else value) for key, value in args.items()}


def _shown(kind: str, value: Any) -> str:
    """A stored value as the input shows it."""
    if value is None or value is _MISSING:
        return ""
    if kind == "lines":
        return "\n".join(str(item) for item in value) if isinstance(value, list) else ""
    if kind == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    return str(value)


def build(schema: Mapping[str, Any] | None, stored: Mapping[str, Any] | None) -> list[ArgField]:
    """The fields of a task's arguments, filled from ``stored`` (or the schema's defaults)."""
    properties = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or [])
    fields = []
    for name, spec in properties.items():
        kind, integer = _kind(spec)
        value = (stored or {}).get(name, spec.get("default", _MISSING))
        arg = ArgField(
            name=name,
            kind=kind,
            description=str(spec.get("description", "")),
            required=name in required,
            sensitive=bool(spec.get("writeOnly")),
            choices=[str(choice) for choice in spec.get("enum", [])],
            integer=integer,
        )
        if arg.sensitive:
            arg.is_set = name in (stored or {})
        elif kind == "checkbox":
            arg.checked = bool(value) if value is not _MISSING else False
        else:
            arg.value = _shown(kind, value)
        fields.append(arg)
    return fields


def _number(text: str, integer: bool) -> int | float:
    """A typed number; ValueError when it is not one (whole when ``integer``)."""
    number = float(text)
    if number.is_integer() and ("." not in text or integer):
        return int(number)
    if integer:
        raise ValueError(text)
    return number


def _parse_one(arg: ArgField, raw: str) -> Any:
    """The typed value of one submitted input; raises ValueError with a message."""
    if arg.kind == "number":
        try:
            return _number(raw.strip(), arg.integer)
        except ValueError:
            message = _l("must be a whole number") if arg.integer else _l("must be a number")
            raise ValueError(message) from None
    if arg.kind == "lines":
        items = [line.strip() for line in raw.splitlines() if line.strip()]
        try:
            return [int(item) for item in items] if arg.integer else items
        except ValueError:
            raise ValueError(_l("one whole number per line")) from None
    if arg.kind == "json":
        try:
            return json.loads(raw)
        except ValueError:
            raise ValueError(_l("must be valid JSON")) from None
    return raw


def parse(
    fields: list[ArgField], form: Mapping[str, str], keep: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed arguments from the submitted form, and shape errors by argument name.

    An empty sensitive input keeps the value in ``keep`` (the stored job's, or
    the duplicated job's); other empty inputs are left out (the schema's
    default applies).
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for arg in fields:
        if arg.kind == "checkbox":
            values[arg.name] = arg.input_name in form
            continue
        raw = form.get(arg.input_name, "")
        if not raw.strip():
            if arg.sensitive and keep and arg.name in keep:
                values[arg.name] = keep[arg.name]
            continue
        try:
            values[arg.name] = _parse_one(arg, raw)
        except ValueError as error:
            errors[arg.name] = str(error.args[0])
    return values, errors


def refill(fields: list[ArgField], form: Mapping[str, str], is_set: set[str]) -> None:
    """Show what the user typed again (a re-rendered form), never a sensitive value."""
    for arg in fields:
        if arg.sensitive:
            arg.is_set = arg.name in is_set
        elif arg.kind == "checkbox":
            arg.checked = arg.input_name in form
        else:
            arg.value = form.get(arg.input_name, "")
