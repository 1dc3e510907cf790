"""Errors raised by services; each front door maps them to its own answer.

``Invalid.fields`` maps snake_case field paths (``schedule_config.expression``,
``task_args.url``, ``retry_count``) to messages: the API turns the paths into
its camelCase names, a form into its field names. Services never speak HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


class ServiceError(Exception):
    """Base: a request the service cannot honour."""

    status = 400

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


class NotFound(ServiceError):
    """No such object, or not one this user may see."""

    status = 404


class Forbidden(ServiceError):
    """The user's role may not do this."""

    status = 403


class Conflict(ServiceError):
    """The object's state does not allow this now."""

    status = 409


class Unavailable(ServiceError):
    """A service Almanac needs (Redis) could not be reached; nothing half-done is left."""

    status = 503


class Invalid(ServiceError):
    """One or more fields are invalid; ``fields`` names each by its snake_case path.

    Without an explicit message the summary is the first field's, so the
    front door can name the field in its own words (see ``summary``).
    """

    status = 422

    def __init__(self, message: str | None = None, fields: Mapping[str, str] | None = None):
        self.explicit = message is not None
        super().__init__(message or _first(fields), fields)

    def summary(self, name: Callable[[str], str] = str) -> str:
        """The one-line message, naming the first field as ``name`` spells it."""
        if self.explicit or not self.fields:
            return self.message
        path, text = next(iter(self.fields.items()))
        return f"{name(path)}: {text}"


def _first(fields: Mapping[str, str] | None) -> str:
    if not fields:
        return "Invalid input."
    path, text = next(iter(fields.items()))
    return f"{path}: {text}"
