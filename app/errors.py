"""Error pages and JSON errors: never a traceback shown to a user."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.api.errors import ApiError, error_response, handle_api_error, service_error_response
from app.services.errors import ServiceError

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    """API paths answer in JSON; pages answer in HTML."""
    return request.path.startswith("/api/")


def handle_http_error(error: HTTPException) -> ResponseReturnValue:
    """Render an HTTP error as JSON for the API or as a page."""
    code = error.code or 500
    if _wants_json():
        return error_response(code, error.description or error.name)  # type: ignore[no-any-return]
    page = render_template(
        "errors/error.html", code=code, title=error.name, message=error.description
    )
    return page, code


def handle_csrf_error(error: CSRFError) -> ResponseReturnValue:
    """A missing or stale CSRF token is a 400 with a plain explanation."""
    error.description = "The form was stale or tampered with; reload the page and try again."
    return handle_http_error(error)


def handle_unexpected(error: Exception) -> ResponseReturnValue:
    """Log the traceback; show the user a plain 500."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http_error(InternalServerError())


def handle_service_error(error: ServiceError) -> ResponseReturnValue:
    """A refused service call: JSON for the API, a page otherwise."""
    if _wants_json():
        return service_error_response(error)  # type: ignore[no-any-return]
    page = render_template("errors/error.html", code=error.status, title="", message=error.message)
    return page, error.status


def register(app: Flask) -> None:
    """Install the error handlers."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
