"""The task registry: what Almanac is allowed to run, and how its arguments look.

Task functions are registered in code with :func:`task`; a name that is not in the
registry is refused everywhere (API, UI, workers). A handler path typed by a user is
never imported — ``TaskSpec.handler_path`` is informational only.

This module is framework-free (no Flask, no SQLAlchemy) and does no I/O at import.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

F = TypeVar("F", bound=Callable[..., Any])

TASK_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
HANDLER_TYPES = frozenset({"python", "http"})
EMPTY_ARGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {},
    "additionalProperties": False,
}
_MAX_MESSAGE_CHARS = 200


class TaskArgsError(ValueError):
    """Bad task arguments; ``errors`` maps a field path ('' = whole object) to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        summary = "; ".join(f"{path or '(args)'}: {msg}" for path, msg in self.errors.items())
        super().__init__(f"invalid task arguments: {summary}")


class UnknownTaskError(KeyError):
    """The task name is not registered."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        """Return a readable message (KeyError would only repr the key)."""
        return f"unknown task {self.name!r}: only tasks registered in code can run"


def _is_finite_number(checker: object, instance: object) -> bool:
    """JSON numbers only: NaN and infinities slip through min/max checks, so refuse them."""
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    return isinstance(instance, float) and math.isfinite(instance)


_extend: Callable[..., type[Validator]] = extend  # the jsonschema stubs leave extend() untyped
_ArgsValidator = _extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("number", _is_finite_number),
)


@dataclass(frozen=True)
class TaskSpec:
    """A registered task function and everything needed to validate and run it."""

    name: str
    display_name: str
    description: str
    func: Callable[..., Any]
    args_schema: dict[str, Any]
    queue: str = "default"
    timeout_seconds: int = 300
    is_system: bool = False
    handler_type: str = "python"
    _validator: Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Refuse a malformed spec at import time rather than at run time."""
        _check_spec_fields(self)
        object.__setattr__(self, "_validator", _build_validator(self.name, self.args_schema))

    @property
    def handler_path(self) -> str:
        """Dotted path of the function — informational only, never imported."""
        qualname = getattr(self.func, "__qualname__", type(self.func).__qualname__)
        return f"{self.func.__module__}.{qualname}"

    def validate_args(self, args: object) -> dict[str, Any]:
        """Validate ``args`` against the schema; return a copy with defaults filled in."""
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise TaskArgsError({"": "must be a JSON object"})
        errors: dict[str, str] = {}
        for error in self._validator.iter_errors(args):
            for path, message in _describe(error):
                errors.setdefault(path, message)
        if errors:
            raise TaskArgsError(errors)
        return _with_defaults(args, self.args_schema)


class TaskRegistry:
    """A name → TaskSpec mapping; iteration is sorted by name."""

    def __init__(self) -> None:
        self._specs: dict[str, TaskSpec] = {}

    def register(self, spec: TaskSpec) -> None:
        """Add ``spec``; a second task with the same name is an error."""
        if spec.name in self._specs:
            existing = self._specs[spec.name].handler_path
            raise ValueError(f"task {spec.name!r} is already registered (by {existing})")
        self._specs[spec.name] = spec

    def get(self, name: str) -> TaskSpec:
        """Return the spec for ``name`` or raise UnknownTaskError."""
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownTaskError(name) from None

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        """Return whether a task with this name is registered."""
        return name in self._specs

    def __iter__(self) -> Iterator[TaskSpec]:
        """Iterate over the specs sorted by name."""
        return iter([self._specs[name] for name in self.names()])

    def __len__(self) -> int:
        """Return the number of registered tasks."""
        return len(self._specs)


registry = TaskRegistry()
_default_registry = registry  # `task()` has a parameter that shadows the module name


def task(
    name: str,
    *,
    display_name: str,
    description: str,
    args: dict[str, Any] | None = None,
    queue: str = "default",
    timeout: int = 300,
    system: bool = False,
    handler_type: str = "python",
    registry: TaskRegistry | None = None,
) -> Callable[[F], F]:
    """Register the decorated function as task ``name``; the function is returned unchanged."""
    target = _default_registry if registry is None else registry

    def decorator(func: F) -> F:
        target.register(
            TaskSpec(
                name=name,
                display_name=display_name,
                description=description,
                func=func,
                args_schema=EMPTY_ARGS_SCHEMA if args is None else args,
                queue=queue,
                timeout_seconds=timeout,
                is_system=system,
                handler_type=handler_type,
            )
        )
        return func

    return decorator


# --- spec checks ---------------------------------------------------------------------------


def _check_spec_fields(spec: TaskSpec) -> None:
    """Raise ValueError for a bad name, handler type, queue or timeout."""
    if not TASK_NAME_RE.fullmatch(spec.name):
        raise ValueError(f"task name {spec.name!r} must match {TASK_NAME_RE.pattern}")
    if spec.handler_type not in HANDLER_TYPES:
        raise ValueError(f"task {spec.name!r}: handler_type must be one of {sorted(HANDLER_TYPES)}")
    if not spec.queue:
        raise ValueError(f"task {spec.name!r}: queue must not be empty")
    if isinstance(spec.timeout_seconds, bool) or spec.timeout_seconds <= 0:
        raise ValueError(f"task {spec.name!r}: timeout_seconds must be a positive integer")


def _build_validator(name: str, schema: dict[str, Any]) -> Validator:
    """Check the args schema (a closed object schema with valid defaults) and compile it."""
    try:
        _ArgsValidator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"task {name!r}: invalid args schema: {exc.message}") from exc
    if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
        raise ValueError(
            f"task {name!r}: args schema must be an object with additionalProperties: false"
        )
    validator = _ArgsValidator(schema)
    for prop, subschema in schema.get("properties", {}).items():
        if "default" in subschema and not validator.evolve(schema=subschema).is_valid(
            subschema["default"]
        ):
            raise ValueError(f"task {name!r}: default for {prop!r} does not match its schema")
    return validator


def _with_defaults(args: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``args`` with top-level schema defaults filled in."""
    filled = dict(args)
    for prop, subschema in schema.get("properties", {}).items():
        if prop not in filled and "default" in subschema:
            filled[prop] = copy.deepcopy(subschema["default"])
    return filled


# --- error messages ------------------------------------------------------------------------
# Our own wording: jsonschema's messages repr the instance, which may be a 1 MB body.
# A subschema may carry an "errorMessage" annotation (the ajv-errors convention) to
# replace the generic wording, e.g. for a regex nobody wants to read.


def _join(path: str, key: object) -> str:
    """Append ``key`` to a dotted field path."""
    return f"{path}.{key}" if path else str(key)


def _type_names(value: object) -> str:
    """Render a JSON-schema ``type`` value as 'string' or 'string, object or null'."""
    names = [str(name) for name in value] if isinstance(value, list) else [str(value)]
    return names[-1] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _any_of_message(value: object) -> str:
    """Describe anyOf/oneOf alternatives by their types when they all declare one."""
    types = [s.get("type") for s in value] if isinstance(value, list) else []
    if types and all(isinstance(t, str) for t in types):
        return f"must be of type {_type_names(types)}"
    return "does not match any of the allowed forms"


_MESSAGES: dict[str, Callable[[Any], str]] = {
    "type": lambda v: f"must be of type {_type_names(v)}",
    "enum": lambda v: "must be one of: " + ", ".join(map(str, v)),
    "const": lambda v: f"must be {v!r}",
    "minimum": lambda v: f"must be >= {v}",
    "maximum": lambda v: f"must be <= {v}",
    "exclusiveMinimum": lambda v: f"must be > {v}",
    "exclusiveMaximum": lambda v: f"must be < {v}",
    "multipleOf": lambda v: f"must be a multiple of {v}",
    "minLength": lambda v: f"must be at least {v} characters long",
    "maxLength": lambda v: f"must be at most {v} characters long",
    "pattern": lambda v: f"must match the pattern {v}",
    "minItems": lambda v: f"must have at least {v} items",
    "maxItems": lambda v: f"must have at most {v} items",
    "uniqueItems": lambda v: "must not contain duplicates",
    "minProperties": lambda v: f"must have at least {v} entries",
    "maxProperties": lambda v: f"must have at most {v} entries",
    "anyOf": _any_of_message,
    "oneOf": _any_of_message,
}


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    """Turn one jsonschema error into (field path, message) pairs."""
    path = ".".join(str(part) for part in error.absolute_path)
    keyword = str(error.validator)
    if keyword == "required" and isinstance(error.instance, dict):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [key for key in required if key not in error.instance]
        return [(_join(path, key), "is required") for key in missing]
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        return [
            (_join(path, key), "is not an allowed field")
            for key in _extra_keys(error.instance, error.schema)
        ]
    if keyword in ("anyOf", "oneOf"):
        # A value of the right type that breaks that branch's limits deserves that message.
        specific = [sub for sub in error.context or [] if sub.validator != "type"]
        if specific:
            return _describe(specific[0])
    if "propertyNames" in error.schema_path:
        path = _join(path, error.instance)
    render = _MESSAGES.get(keyword)
    message = render(error.validator_value) if render else error.message
    if isinstance(error.schema, Mapping) and isinstance(error.schema.get("errorMessage"), str):
        message = error.schema["errorMessage"]
    return [(path, message[:_MAX_MESSAGE_CHARS])]


def _extra_keys(instance: dict[str, Any], schema: object) -> list[str]:
    """Keys of ``instance`` that its object ``schema`` does not declare."""
    schema = schema if isinstance(schema, Mapping) else {}
    declared = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [
        key
        for key in instance
        if key not in declared and not any(p.search(str(key)) for p in patterns)
    ]
