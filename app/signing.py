"""Webhook signatures, as Standard Webhooks (https://www.standardwebhooks.com) defines them.

Each delivery carries ``webhook-id`` (the event id, the same on every
attempt), ``webhook-timestamp`` (UNIX seconds) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``. A secret of the
form ``whsec_<base64>`` is used as the decoded bytes (what Standard Webhooks
libraries expect); any other secret as its UTF-8 bytes. ``X-Almanac-Signature``
(SPEC §4.11) signs the timestamp and body alone, as ``t=<ts>,v1=<hex>``.
docs/WEBHOOKS.md shows a receiver verifying both.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    """A fresh random secret in the Standard Webhooks form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key a secret stands for."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error:
            pass  # not base64 after all: use it as text, like any other secret
    return secret.encode()


def standard_signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def almanac_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Almanac-Signature`` header value (timestamp and body)."""
    digest = hmac.new(signing_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def signed_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every signature header of one attempt."""
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, event_id, timestamp, body),
        "X-Almanac-Signature": almanac_signature(secret, timestamp, body),
    }


def hint(secret: str) -> str:
    """What the API shows of a stored secret: enough to tell two apart."""
    return f"…{secret[-4:]}" if len(secret) > 8 else "…"
