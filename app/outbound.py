"""The one place Almanac's outbound HTTP goes through (HTTP tasks and webhooks).

Redirects are followed here by hand, one hop at a time, so that every destination —
the first URL and each ``Location`` — passes :func:`check_destination` (scheme, host,
IP literals). Every connection then goes through :class:`app.netguard.GuardedBackend`,
which checks the addresses a name resolves to before connecting: the SPEC §4.12
guard applies to the address actually connected to, on every hop.

:func:`request` returns an :class:`OutboundResponse` (a small frozen dataclass), not an
``httpx.Response``: the body is read in a streaming loop and capped at
``MAX_BODY_BYTES``, so a huge response cannot exhaust a worker's memory.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

import httpcore
import httpx

from app.netguard import GuardedBackend, OutboundError, Policy

__all__ = [
    "URL_PATTERN",
    "OutboundError",
    "OutboundResponse",
    "allowed_networks",
    "check_destination",
    "request",
]

MAX_BODY_BYTES = 1024 * 1024
# The shape of an outbound URL, for request schemas (HTTP task args, webhooks):
# http(s), optional userinfo, a host (brackets only around an IPv6 literal), an
# optional port, then a path, query or fragment without spaces. The guard still
# judges the host; this only turns away what no parser agrees on.
URL_PATTERN = (
    r"^https?://(?:[^\s/?#@\[\]]*@)?(?:\[[0-9A-Fa-f:.]+\]|[^\s/?#@\[\]:]+)"
    r"(?::[0-9]{1,5})?(?:[/?#]\S*)?$"
)
ALLOWED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "Almanac (outbound)"
# Request headers that describe a body; dropped when a redirect turns the request into a GET.
_BODY_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "content-language", "transfer-encoding"}
)
# Headers the user meant for the first origin only; dropped when a redirect changes origin.
_ORIGIN_BOUND_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "host"})


@dataclass(frozen=True)
class OutboundResponse:
    """The final response after redirects; ``text`` holds at most MAX_BODY_BYTES of body."""

    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    text: str
    elapsed_ms: float  # from the first byte sent to the last byte read, over all hops
    url: str  # the final URL, after redirects
    truncated: bool = False  # True when the body was longer than MAX_BODY_BYTES


@dataclass(frozen=True)
class _Hop:
    """One request in a redirect chain."""

    method: str
    url: httpx.URL
    headers: httpx.Headers
    content: bytes | str | None
    json: Any


def allowed_networks() -> list[str]:
    """The admin's ALLOWED_OUTBOUND_NETWORKS (outside an app: none)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return list(current_app.config.get("ALLOWED_OUTBOUND_NETWORKS", []))
    return []


def _policy(networks: Sequence[str] | None) -> Policy:
    return Policy(allowed_networks() if networks is None else networks)


def check_destination(url: str, allowed: Sequence[str] | None = None) -> None:
    """Refuse a URL that Almanac must not send a request to (raises OutboundError).

    Runs for the first URL and for every redirect hop, without DNS: an http(s)
    scheme, a host, and an IP-literal host the guard permits (numeric tricks
    like ``127.1`` are refused outright). Names are checked when connecting.
    ``allowed`` defaults to the app's ALLOWED_OUTBOUND_NETWORKS.
    """
    _check_url(url, _policy(allowed))


def _check_url(url: str, policy: Policy) -> None:
    parsed = _parse_url(url)
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise OutboundError(f"refusing {parsed.scheme or 'scheme-less'} URL: only http(s)")
    if not parsed.host:
        raise OutboundError("refusing URL without a host")
    policy.check_host(parsed.raw_host.decode("ascii"))  # IDNA names in their xn-- form


def _parse_url(url: str) -> httpx.URL:
    """Parse ``url``, turning httpx's InvalidURL into an OutboundError."""
    try:
        return httpx.URL(url)
    except httpx.InvalidURL as exc:
        # httpx's own wording names its parser's internals; say what to fix instead.
        problem = next(
            (text for prefix, text in _URL_PROBLEMS if str(exc).startswith(prefix)),
            "it is not a well-formed http(s) URL",
        )
        raise OutboundError(f"invalid URL: {problem}") from exc


_URL_PROBLEMS = (
    ("Invalid IPv6", "the host in [brackets] is not an IPv6 address such as [2001:db8::1]"),
    ("Invalid IPv4", "the host is not a valid IPv4 address"),
    ("Invalid port", "the port must be a whole number from 1 to 65535"),
)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one costs ~50 ms per request."""
    return ssl.create_default_context()


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | str | None = None,
    json: Any = None,
    timeout: float = 30.0,
    follow_redirects: bool = True,
    max_redirects: int = 5,
    allowed: Sequence[str] | None = None,
) -> OutboundResponse:
    """Send one request, following up to ``max_redirects`` checked redirects.

    ``timeout`` bounds the whole exchange (all hops and the body), not just each read.
    Transport failures surface as ``httpx.HTTPError`` subclasses (``TimeoutException``,
    ``ConnectError``, …); refusals as OutboundError. ``allowed`` (CIDR strings)
    defaults to the app's ALLOWED_OUTBOUND_NETWORKS.
    """
    if content is not None and json is not None:
        raise ValueError("pass content or json, not both")
    hop = _Hop(method.upper(), _parse_url(url), httpx.Headers(headers), content, json)
    started = time.monotonic()
    deadline = started + timeout
    policy = _policy(allowed)
    # trust_env=False: no proxies or .netrc credentials from the environment — a proxy
    # would bypass the address guard and netrc would hand secrets to user-chosen hosts.
    with httpx.Client(
        transport=_GuardedTransport(policy), trust_env=False, headers={"User-Agent": USER_AGENT}
    ) as client:
        for _ in range(max_redirects + 1):
            _check_url(str(hop.url), policy)
            with _send(client, hop, deadline) as response:
                location = _redirect_location(response) if follow_redirects else None
                if location is None:
                    return _read(response, started, deadline)
            hop = _next_hop(hop, response.status_code, location)
    raise OutboundError(f"too many redirects (more than {max_redirects})")


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with connections made by the guarded backend."""

    def __init__(self, policy: Policy) -> None:
        super().__init__(verify=_tls_context(), trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=_tls_context(), network_backend=GuardedBackend(policy)
        )


def _send(
    client: httpx.Client, hop: _Hop, deadline: float
) -> AbstractContextManager[httpx.Response]:
    """Start streaming one hop with whatever is left of the overall time budget."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpx.TimeoutException("request timed out")
    return client.stream(
        hop.method,
        hop.url,
        headers=hop.headers,
        content=hop.content,
        json=hop.json,
        timeout=remaining,
        follow_redirects=False,
    )


def _redirect_location(response: httpx.Response) -> httpx.URL | None:
    """Return the absolute redirect target, or None when this is the final response."""
    location = response.headers.get("location")
    if response.status_code not in REDIRECT_STATUSES or not location:
        return None
    try:
        return response.url.join(location)
    except httpx.InvalidURL as exc:
        raise OutboundError(f"invalid redirect location: {exc}") from exc


def _next_hop(hop: _Hop, status: int, location: httpx.URL) -> _Hop:
    """Build the next request the way browsers do (RFC 9110 §15.4)."""
    headers = httpx.Headers(hop.headers)
    if location.scheme != hop.url.scheme or location.netloc != hop.url.netloc:
        for name in _ORIGIN_BOUND_HEADERS:
            headers.pop(name, None)
    becomes_get = (status == 303 and hop.method != "HEAD") or (
        status in (301, 302) and hop.method == "POST"
    )
    if not becomes_get:
        return replace(hop, url=location, headers=headers)
    for name in _BODY_HEADERS:
        headers.pop(name, None)
    return _Hop("GET", location, headers, None, None)


def _read(response: httpx.Response, started: float, deadline: float) -> OutboundResponse:
    """Read at most MAX_BODY_BYTES of (decoded) body, within the time budget."""
    body = bytearray()
    truncated = False
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("response body took too long", request=response.request)
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            del body[MAX_BODY_BYTES:]
            truncated = True
            break
    return OutboundResponse(
        status=response.status_code,
        headers=dict(response.headers.items()),
        text=_decode(bytes(body), response.encoding),
        elapsed_ms=round((time.monotonic() - started) * 1000, 3),
        url=str(response.url),
        truncated=truncated,
    )


def _decode(body: bytes, encoding: str | None) -> str:
    """Decode leniently: a bad charset label or a cut multi-byte character is not an error."""
    try:
        return body.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
