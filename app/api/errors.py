"""The API's error body: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import ValidationError

from app.services.errors import Invalid, ServiceError

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
}


class ApiError(Exception):
    """An error to answer with the SPEC §5 body and an HTTP status."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}


def error_response(status: int, message: str, fields: dict[str, str] | None = None) -> Any:
    """A JSON error response."""
    body = {
        "error": {"code": _CODES.get(status, "error"), "message": message, "fields": fields or {}}
    }
    response = jsonify(body)
    response.status_code = status
    return response


def handle_api_error(error: ApiError) -> ResponseReturnValue:
    """Render an ApiError."""
    return error_response(error.status, error.message, error.fields)  # type: ignore[no-any-return]


# Below these fields, keys are free-form data (a task's own argument names): shown as given.
_OPAQUE_FIELDS = frozenset({"task_args"})


def api_path(path: str) -> str:
    """The API's spelling of a field path: ``schedule_config.run_at`` → ``scheduleConfig.runAt``."""
    parts = path.split(".")
    for index, part in enumerate(parts):
        head, *rest = part.split("_")
        parts[index] = head + "".join(word[:1].upper() + word[1:] for word in rest)
        if part in _OPAQUE_FIELDS:
            break
    return ".".join(parts)


def service_error_response(error: ServiceError) -> Any:
    """A refused service call as the API's error body, field paths in camelCase."""
    message = error.summary(api_path) if isinstance(error, Invalid) else error.message
    fields = {api_path(path): text for path, text in error.fields.items()}
    return error_response(error.status, message, fields)


def fields_from_validation(error: ValidationError, prefix: str = "") -> dict[str, str]:
    """Map pydantic errors to ``{"field.path": "message"}`` using the API's names."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or prefix.rstrip(".") or "body"
        fields.setdefault(prefix + location if location != "body" else location, item["msg"])
    return fields
