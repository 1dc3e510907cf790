"""The API's error body: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import ValidationError

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


def fields_from_validation(error: ValidationError, prefix: str = "") -> dict[str, str]:
    """Map pydantic errors to ``{"field.path": "message"}`` using the API's names."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or prefix.rstrip(".") or "body"
        fields.setdefault(prefix + location if location != "body" else location, item["msg"])
    return fields
