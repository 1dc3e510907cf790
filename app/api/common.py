"""Authentication, parsing and rendering shared by every API view."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import g, jsonify, request
from flask_login import current_user
from pydantic import BaseModel, ValidationError

from app.api import bp
from app.api.errors import ApiError, fields_from_validation
from app.extensions import csrf, db
from app.models import TriggeredBy, User
from app.services.users import accounts

M = TypeVar("M", bound=BaseModel)
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_PUBLIC_ENDPOINTS = {"api.openapi"}

# The API authenticates by bearer token or by the UI's session; only the
# session is exposed to CSRF, so only session requests are checked for it.
csrf.exempt(bp)


@bp.before_request
def authenticate() -> None:
    """Resolve the caller from a bearer token or the session cookie."""
    if request.endpoint in _PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization")
    if header is not None:
        g.api_user = _token_user(header)
        g.auth_via = "token"
    elif current_user.is_authenticated:
        if request.method not in _SAFE_METHODS:
            csrf.protect()
        g.api_user = current_user._get_current_object()
        g.auth_via = "session"
    else:
        raise ApiError(401, "Sign in, or send 'Authorization: Bearer <token>'.")


def _token_user(header: str) -> User:
    """The user a bearer token belongs to, else a 401."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "The Authorization header must be 'Bearer <token>'.")
    user = accounts.user_for_token(db.session, token.strip())
    if user is None:
        raise ApiError(401, "The token is invalid or revoked.")
    return user


def api_user() -> User:
    """The caller (what the caller may do is the services' business)."""
    user: User = g.api_user
    return user


def trigger_source() -> TriggeredBy:
    """How a Run now arrived: by API token, or from the UI's session."""
    return TriggeredBy.API if g.get("auth_via") == "token" else TriggeredBy.MANUAL


def parse_body(model: type[M]) -> M:
    """Validate the JSON body (sent as ``application/json``) against a (strict) request model."""
    data = request.get_data()
    # A form post or text/plain body must not slip through as JSON (CSRF-style requests).
    if data and request.mimetype != "application/json":
        raise ApiError(415, "Send the request body as JSON with 'Content-Type: application/json'.")
    try:
        return model.model_validate_json(data or b"null")
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors()):
            raise ApiError(400, "The request body is not valid JSON.") from None
        fields = fields_from_validation(error)
        raise ApiError(422, "The request body is invalid.", fields) from None


def parse_query(model: type[M]) -> M:
    """Validate query parameters (strings, so converted where unambiguous)."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise ApiError(422, "Invalid query parameters.", fields_from_validation(error)) from None


def respond(model: BaseModel, status: int = 200) -> Any:
    """Serialise a response model with camelCase keys."""
    response = jsonify(model.model_dump(mode="json", by_alias=True))
    response.status_code = status
    return response
