"""Errors raised by services; the web layer maps them to HTTP statuses."""

from __future__ import annotations


class ServiceError(Exception):
    """Base: a request the service cannot honour."""

    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(ServiceError):
    """No such object, or not one this user may see."""

    status = 404


class Forbidden(ServiceError):
    """The user's role may not do this."""

    status = 403


class Conflict(ServiceError):
    """The object's state does not allow this now."""

    status = 409


class Invalid(ServiceError):
    """One or more fields are invalid; ``fields`` names each."""

    status = 422
