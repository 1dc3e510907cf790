"""Built-in task functions: the recurring API call, history cleanup and demo tasks."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from app import outbound
from app.tasks.registry import TaskArgsError, task

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
RESULT_BODY_CHARS = 4096
RESULT_HEADERS = ("content-type", "content-length")
# An RFC 9110 token; httpx would reject anything else at run time, so say so up front.
_HEADER_NAME_PATTERN = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"


class HttpTaskError(RuntimeError):
    """An HTTP task failed: ``status`` is None for transport errors, ``result`` when a response came back."""  # noqa: E501

    def __init__(
        self, message: str, *, status: int | None = None, result: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.result = result


# --- demo tasks -----------------------------------------------------------------------------


@task("noop", display_name="No-op", description="Does nothing and succeeds. Handy for testing.")
def noop() -> dict[str, Any]:
    """Return at once, successfully."""
    return {"ok": True}


SLEEP_ARGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "seconds": {
            "type": "number",
            "minimum": 0,
            "maximum": 86400,
            "default": 1,
            "description": "How long to sleep, in seconds.",
        },
    },
    "additionalProperties": False,
}


@task(
    "sleep",
    display_name="Sleep",
    description="Sleeps for a number of seconds, then succeeds.",
    args=SLEEP_ARGS,
)
def sleep(seconds: float = 1) -> dict[str, Any]:
    """Sleep for ``seconds`` and report it."""
    time.sleep(seconds)
    return {"slept": seconds}


FLAKY_ARGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "failure_rate": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "default": 0.5,
            "description": "Probability (0..1) that a run fails.",
        },
        "seed": {"type": "integer", "description": "Seed for a reproducible outcome."},
    },
    "additionalProperties": False,
}


@task(
    "flaky",
    display_name="Flaky",
    description="Fails at random with the given probability. For trying out retries.",
    args=FLAKY_ARGS,
)
def flaky(failure_rate: float = 0.5, seed: int | None = None) -> dict[str, Any]:
    """Raise RuntimeError with probability ``failure_rate``, else succeed."""
    rng = random.Random(seed)
    if rng.random() < failure_rate:
        raise RuntimeError("flaky task failed (simulated)")
    return {"ok": True}


# --- system tasks ---------------------------------------------------------------------------

CLEANUP_ARGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "older_than_days": {
            "type": "integer",
            "minimum": 1,
            "maximum": 3650,
            "default": 30,
            "description": "Delete executions that finished more than this many days ago.",
        },
        "batch_size": {
            "type": "integer",
            "minimum": 100,
            "maximum": 100000,
            "default": 1000,
            "description": "Rows deleted per transaction.",
        },
    },
    "additionalProperties": False,
}


@task(
    "cleanup_history",
    display_name="Clean up history",
    description="Deletes execution history older than the retention period, in batches.",
    args=CLEANUP_ARGS,
    system=True,
    timeout=3600,
)
def cleanup_history(older_than_days: int = 30, batch_size: int = 1000) -> dict[str, Any]:
    """Delete old executions in batches and report how many went."""
    # Imported here: the registry must stay importable without the database layer.
    # The task is the edge: it takes the app's session (the worker's app context).
    from app.extensions import db
    from app.models import utcnow
    from app.services.ledger import retention

    deleted = retention.purge_older_than(
        db.session, int(older_than_days), utcnow(), int(batch_size)
    )
    return {"deleted": int(deleted)}


# --- the recurring API call -----------------------------------------------------------------

HTTP_REQUEST_ARGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "method": {"enum": list(HTTP_METHODS), "default": "GET", "description": "HTTP method."},
        "url": {
            "type": "string",
            "minLength": 1,
            "maxLength": 2048,
            "pattern": outbound.URL_PATTERN,
            "description": "An http:// or https:// URL.",
            "errorMessage": "must be an http:// or https:// URL without spaces",
        },
        "headers": {
            "type": "object",
            "maxProperties": 50,
            "propertyNames": {
                "maxLength": 256,
                "pattern": _HEADER_NAME_PATTERN,
                "errorMessage": "is not a valid header name",
            },
            "additionalProperties": {
                "type": "string",
                "maxLength": 8192,
                "pattern": r"^[^\r\n]*$",
                "errorMessage": "must be a single-line string of at most 8192 characters",
                # Header values often carry credentials: stored and sent, never shown again.
                "writeOnly": True,
            },
            "description": "Request headers (name to value); values are write-only.",
        },
        "body": {
            "anyOf": [
                {"type": "string", "maxLength": 1_000_000},
                {"type": "object"},
                {"type": "array"},
                {"type": "null"},
            ],
            "description": "A string is sent as is; an object or array is sent as JSON.",
        },
        "expected_status": {
            "type": "array",
            "items": {"type": "integer", "minimum": 100, "maximum": 599},
            "maxItems": 100,
            "default": [],
            "description": "Status codes that count as success; empty means any 2xx.",
        },
        "timeout": {
            "type": "number",
            "minimum": 0.1,
            "maximum": 300,
            "default": 30,
            "description": "Seconds allowed for the whole request, redirects included.",
        },
        "follow_redirects": {
            "type": "boolean",
            "default": True,
            "description": "Follow up to 5 redirects.",
        },
    },
    "required": ["url"],
    "additionalProperties": False,
}


@task(
    "http_request",
    display_name="HTTP request",
    description="Calls a URL (the recurring API call) and checks the response status.",
    args=HTTP_REQUEST_ARGS,
    handler_type="http",
)
def http_request(
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | dict[str, Any] | list[Any] | None = None,
    expected_status: Sequence[int] = (),
    timeout: float = 30,
    follow_redirects: bool = True,
) -> dict[str, Any]:
    """Send the request; return status, timing, key headers and the start of the body."""
    _require_http_url(url)
    body_kwargs: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": body}
    try:
        response = outbound.request(
            method,
            url,
            headers=headers,
            timeout=float(timeout),
            follow_redirects=follow_redirects,
            **body_kwargs,
        )
    except (httpx.HTTPError, httpx.InvalidURL, outbound.OutboundError) as exc:
        raise HttpTaskError(_transport_message(exc, timeout)) from exc
    result = _result(response)
    if not _is_expected(response.status, expected_status):
        expected = _expected_text(expected_status)
        raise HttpTaskError(
            f"unexpected HTTP status {response.status} (expected {expected})",
            status=response.status,
            result=result,
        )
    return result


def _require_http_url(url: str) -> None:
    """Refuse anything but an absolute http(s) URL, whatever the schema let through."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # "http://[" and the like
        usable = False
    if not usable:
        raise TaskArgsError({"url": "must be an absolute http:// or https:// URL"})


def _result(response: outbound.OutboundResponse) -> dict[str, Any]:
    """The JSON-able summary stored on the execution."""
    return {
        "status": response.status,
        "elapsedMs": response.elapsed_ms,
        "headers": {k: response.headers[k] for k in RESULT_HEADERS if k in response.headers},
        "body": response.text[:RESULT_BODY_CHARS],
    }


def _is_expected(status: int, expected: Sequence[int]) -> bool:
    """Any 2xx when no codes are given, else one of the given codes."""
    return status in expected if expected else 200 <= status < 300


def _expected_text(expected: Sequence[int]) -> str:
    """Human wording of the expected codes for error messages."""
    return ", ".join(map(str, expected)) if expected else "2xx"


_TRANSPORT_MESSAGES: tuple[tuple[type[Exception], str], ...] = (
    (httpx.TimeoutException, "request timed out after {timeout:g}s"),
    (httpx.ConnectError, "could not connect: {exc}"),
    (httpx.TooManyRedirects, "too many redirects"),
    (outbound.OutboundError, "request refused: {exc}"),
    (httpx.InvalidURL, "invalid URL: {exc}"),
)


def _transport_message(exc: Exception, timeout: float) -> str:
    """A short, operator-readable description of a request that got no usable response."""
    for kind, template in _TRANSPORT_MESSAGES:
        if isinstance(exc, kind):
            return template.format(exc=exc, timeout=timeout)
    return f"HTTP request failed: {type(exc).__name__}: {exc}"
