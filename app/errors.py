"""Error pages and JSON errors: never a traceback shown to a user."""

from __future__ import annotations

import logging

from flask import Flask, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed
from werkzeug.wrappers import Response

from app import htmx
from app.api.errors import ApiError, error_response, handle_api_error, service_error_response
from app.services.errors import ServiceError

log = logging.getLogger(__name__)

# Pages show these (translated) instead of werkzeug's English defaults.
_PAGE_TEXT = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    403: (_l("Forbidden"), _l("You may not open this page.")),
    404: (_l("Page not found"), _l("There is no page at this address.")),
    405: (_l("Method not allowed"), _l("This page does not accept that kind of request.")),
    413: (_l("Too large"), _l("What was sent is too large.")),
    429: (_l("Too many requests"), _l("Too many attempts; wait a minute and try again.")),
    500: (_l("Something went wrong"), _l("The error was logged; try again in a moment.")),
}


def _page_text(error: HTTPException) -> tuple[str, str]:
    """Title and message for an error page: ours unless the view gave its own message."""
    code = error.code or 500
    title, message = _PAGE_TEXT.get(code, (error.name, error.description or ""))
    if error.description and error.description != type(error).description:
        message = error.description
    return str(title), str(message)


def _wants_json() -> bool:
    """API paths answer in JSON; pages answer in HTML."""
    return request.path.startswith("/api/")


def handle_http_error(error: HTTPException) -> ResponseReturnValue:
    """Render an HTTP error as JSON for the API or as a page."""
    code = error.code or 500
    if _wants_json():
        response = error_response(code, error.description or error.name)
        response.headers.extend(_allow_header(error))
        return response  # type: ignore[no-any-return]
    title, message = _page_text(error)
    return _error_page(code, title, message, _allow_header(error))


def _error_page(code: int, title: str, message: str, headers: dict[str, str]) -> Response:
    """The error page; an htmx request (which does not swap error answers) gets a toast too,
    so an action refused in place is never silent."""
    page = render_template("errors/error.html", code=code, title=title, message=message)
    response = make_response(page, code, headers)
    if request.headers.get("HX-Request"):
        htmx.add_toast(response, message or title, "error")
    return response


def _allow_header(error: HTTPException) -> dict[str, str]:
    """A 405 names the methods the resource does support (RFC 9110 §15.5.6)."""
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        return {"Allow": ", ".join(sorted(error.valid_methods))}
    return {}


def handle_csrf_error(error: CSRFError) -> ResponseReturnValue:
    """A missing or stale CSRF token is a 400 with a plain explanation."""
    error.description = _("The form was stale or tampered with; reload the page and try again.")
    return handle_http_error(error)


def handle_unexpected(error: Exception) -> ResponseReturnValue:
    """Log the traceback; show the user a plain 500."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http_error(InternalServerError())


def handle_service_error(error: ServiceError) -> ResponseReturnValue:
    """A refused service call: JSON for the API, a page otherwise."""
    if _wants_json():
        return service_error_response(error)  # type: ignore[no-any-return]
    return _error_page(error.status, "", _(error.message), {})


def register(app: Flask) -> None:
    """Install the error handlers."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
