"""Sending webhook events: queue what is due, send one attempt, decide what comes next.

A delivery is ``pending`` (due at ``next_try_at``) → ``queued`` (the retry
process put it in the RQ ``webhooks`` queue) → ``sending`` (a worker took it,
committed before the request goes out, so no database lock is held while a
slow receiver answers) → ``delivered``, back to ``pending`` with a later
``next_try_at`` (exponential, capped), or ``dead`` (out of attempts, refused
by the outbound guard, or the receiver answered 410 Gone, which also turns
the webhook off). Every attempt carries the same event id.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from app import backoff, outbound, signing
from app.extensions import DbSession
from app.i18n import _
from app.models import Backoff, DeliveryStatus, User, Webhook, WebhookDelivery, utcnow
from app.services.errors import Conflict, NotFound
from app.services.events.webhooks import (
    WebhookRef,
    get_webhook,
    iso,
    new_event_id,
    require_change,
    visible_webhooks,
)
from app.services.ledger import claims
from app.services.paging import Page, page_of
from app.version import __version__

log = logging.getLogger(__name__)
EXCERPT_CHARS = 1000
ATTEMPT_LOG_SIZE = 20
# The phase of a test event (not a lifecycle phase: no webhook subscribes to it).
PING_PHASE = "ping"
# A queued delivery RQ has forgotten (a flushed Redis) is queued again after this long.
REQUEUE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class DeliverySettings:
    """How deliveries are sent and retried (from the app config)."""

    timeout: float = 10.0
    max_attempts: int = 8
    retry_base: float = 10.0
    retry_max: float = 3600.0

    @classmethod
    def from_config(cls, config: Any) -> DeliverySettings:
        """Read the WEBHOOK_* settings."""
        return cls(
            timeout=float(config["WEBHOOK_TIMEOUT_SECONDS"]),
            max_attempts=int(config["WEBHOOK_MAX_ATTEMPTS"]),
            retry_base=float(config["WEBHOOK_RETRY_BASE_SECONDS"]),
            retry_max=float(config["WEBHOOK_RETRY_MAX_SECONDS"]),
        )


def dispatch_due(session: DbSession, now: datetime, limit: int) -> list[uuid.UUID]:
    """Claim due deliveries for the queue (``queued``); enqueue the ids after the commit."""
    due = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            WebhookDelivery.next_try_at <= now,
        )
        .order_by(WebhookDelivery.next_try_at)
        .limit(limit)
    )
    values = {"status": DeliveryStatus.QUEUED.value, "sending_since": now}
    return claims.claim(session, due, WebhookDelivery, DeliveryStatus.PENDING.value, values)


def start(session: DbSession, delivery_id: uuid.UUID, now: datetime) -> bool:
    """Take a queued delivery for sending (committed); False if it is not ours to send."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.QUEUED.value,
        )
        .values(
            status=DeliveryStatus.SENDING.value,
            sending_since=now,
            attempts=WebhookDelivery.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


@dataclass
class Attempt:
    """What one attempt did."""

    headers: dict[str, str]
    status: int | None = None
    excerpt: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    final: bool = False  # no point trying again (refused by the guard)


def send(hook: Webhook, delivery: WebhookDelivery, settings: DeliverySettings) -> Attempt:
    """POST the event, signed, within the timeout; never raises for the receiver's faults."""
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = signing.signed_headers(hook.secret, delivery.event_id, int(time.time()), body)
    headers |= {"Content-Type": "application/json", "User-Agent": f"Almanac-Webhooks/{__version__}"}
    attempt = Attempt(headers)
    started = time.monotonic()
    try:
        response = outbound.request(
            "POST",
            hook.url,
            headers=headers,
            content=body,
            timeout=settings.timeout,
            follow_redirects=False,
        )
    except outbound.OutboundError as error:
        attempt.error, attempt.final = f"refused: {error}", True
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        attempt.error = f"{type(error).__name__}: {error}"[:1000]
    else:
        attempt.status, attempt.excerpt = response.status, response.text[:EXCERPT_CHARS]
        if not 200 <= response.status < 300:
            attempt.error = f"HTTP {response.status}"
    attempt.duration_ms = round((time.monotonic() - started) * 1000, 3)
    return attempt


def record(
    session: DbSession,
    delivery: WebhookDelivery,
    hook: Webhook | None,
    attempt: Attempt,
    settings: DeliverySettings,
    now: datetime,
) -> None:
    """Store an attempt and decide: delivered, try again later, or dead (caller commits)."""
    delivery.url = hook.url if hook else delivery.url
    delivery.request_headers = attempt.headers
    delivery.response_status = attempt.status
    delivery.response_excerpt = attempt.excerpt
    delivery.duration_ms = attempt.duration_ms
    delivery.error = attempt.error
    delivery.sending_since = None
    entry = {"at": iso(now), "responseStatus": attempt.status, "durationMs": attempt.duration_ms}
    delivery.attempt_log = [*(delivery.attempt_log or []), entry | {"error": attempt.error}][
        -ATTEMPT_LOG_SIZE:
    ]
    if attempt.error is None:
        delivery.status = DeliveryStatus.DELIVERED.value
        delivery.delivered_at, delivery.next_try_at = now, None
    elif attempt.status == 410 and hook is not None:
        hook.is_active = False  # the receiver says it is gone for good: stop sending
        _bury(delivery, "410 Gone: the webhook was turned off")
    elif attempt.final or delivery.attempts >= settings.max_attempts:
        _bury(delivery, f"gave up after {delivery.attempts} attempt(s)")
    else:
        delay = backoff.retry_delay(
            Backoff.EXPONENTIAL, delivery.attempts, settings.retry_base, settings.retry_max
        )
        delivery.status = DeliveryStatus.PENDING.value
        delivery.next_try_at = now + timedelta(seconds=delay)


def _bury(delivery: WebhookDelivery, why: str) -> None:
    delivery.status = DeliveryStatus.DEAD.value
    delivery.next_try_at = None
    delivery.error = f"{delivery.error}; {why}" if delivery.error else why


def deliver(
    session: DbSession, delivery_id: uuid.UUID, settings: DeliverySettings, now: datetime
) -> str | None:
    """One attempt of one delivery, start to end; returns its new status (None: not ours)."""
    if not start(session, delivery_id, now):
        log.info("delivery %s is not queued (sent already or gone); skipped", delivery_id)
        return None
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:  # deleted with its webhook meanwhile
        return None
    hook = session.get(Webhook, delivery.webhook_id)
    if hook is None or not hook.is_active:
        attempt = Attempt({}, error="the webhook is turned off", final=True)
    else:
        session.commit()  # end the read transaction: nothing is held while we wait
        attempt = send(hook, delivery, settings)
    record(session, delivery, hook, attempt, settings, utcnow())
    session.commit()
    return delivery.status


def sweep_lost(session: DbSession, now: datetime, settings: DeliverySettings) -> int:
    """Deliveries stuck queued or sending (Redis flushed, worker died) become due again."""
    queued_lost = (WebhookDelivery.status == DeliveryStatus.QUEUED.value) & (
        WebhookDelivery.sending_since < now - REQUEUE_AFTER
    )
    sending_lost = (WebhookDelivery.status == DeliveryStatus.SENDING.value) & (
        WebhookDelivery.sending_since < now - timedelta(seconds=settings.timeout) - REQUEUE_AFTER
    )
    result = session.execute(
        update(WebhookDelivery)
        .where(queued_lost | sending_lost)
        .values(status=DeliveryStatus.PENDING.value, next_try_at=now, sending_since=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# ---- the delivery log and replay ----------------------------------------------------------


def list_deliveries(
    session: DbSession,
    user: User,
    webhook: WebhookRef,
    page: int,
    per_page: int,
    status: str | None = None,
) -> Page[WebhookDelivery]:
    """A page of the deliveries of a webhook this user may see, newest first, and the total."""
    hook = get_webhook(session, user, webhook)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    order = (WebhookDelivery.created_at.desc(), WebhookDelivery.id)
    return page_of(session, query, order, page, per_page)


def of_execution(
    session: DbSession, user: User, execution_id: uuid.UUID, limit: int = 100
) -> list[WebhookDelivery]:
    """The deliveries an execution caused, to webhooks this user may see, oldest first."""
    visible = visible_webhooks(user).with_only_columns(Webhook.id)
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.execution_id == execution_id, WebhookDelivery.webhook_id.in_(visible)
        )
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def get_delivery(session: DbSession, user: User, delivery_id: uuid.UUID) -> WebhookDelivery:
    """A delivery of a webhook this user may see, else NotFound."""
    visible = visible_webhooks(user).with_only_columns(Webhook.id)
    row: WebhookDelivery | None = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id.in_(visible)
        )
    )
    if row is None:
        raise NotFound(_("No such delivery."))
    return row


def replay(
    session: DbSession, user: User, webhook: WebhookRef, delivery_id: uuid.UUID, now: datetime
) -> WebhookDelivery:
    """Send an event again as a new delivery (same event id and body, fresh attempts); commit."""
    hook = get_webhook(session, user, webhook)
    original = get_delivery(session, user, delivery_id)
    require_change(session, user, hook.job_id)
    if original.webhook_id != hook.id:
        raise NotFound(_("No such delivery of this webhook."))
    if not hook.is_active:
        raise Conflict(_("The webhook is turned off; turn it on (isActive) to replay."))
    row = _new_delivery(hook, original.event_id, original.phase, original.payload, now)
    row.execution_id, row.replay_of = original.execution_id, original.id
    session.add(row)
    session.commit()
    return row


def ping(session: DbSession, user: User, webhook: WebhookRef, now: datetime) -> WebhookDelivery:
    """A synthetic ``ping`` event, delivered like any other and kept in the log; commit.

    It lets a person check the URL, the signature and the receiver's answer
    without waiting for a run.
    """
    hook = get_webhook(session, user, webhook)
    require_change(session, user, hook.job_id)
    if not hook.is_active:
        raise Conflict(_("The webhook is turned off; turn it on (isActive) to ping it."))
    event_id = new_event_id()
    row = _new_delivery(hook, event_id, PING_PHASE, ping_payload(event_id, hook, now), now)
    session.add(row)
    session.commit()
    return row


def ping_payload(event_id: str, hook: Webhook, now: datetime) -> dict[str, Any]:
    """The body of a ping: the event envelope, with no job run in it."""
    return {
        "eventId": event_id,
        "phase": PING_PHASE,
        "occurredAt": iso(now),
        "webhook": {"id": str(hook.id), "phase": hook.phase, "jobId": _text(hook.job_id)},
        "job": None,
        "execution": None,
        "retry": None,
    }


def _text(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None


def _new_delivery(
    hook: Webhook, event_id: str, phase: str, payload: dict[str, Any], now: datetime
) -> WebhookDelivery:
    """A delivery due now, with no attempts yet."""
    return WebhookDelivery(
        id=uuid.uuid4(),
        webhook_id=hook.id,
        event_id=event_id,
        phase=phase,
        payload=payload,
        status=DeliveryStatus.PENDING.value,
        next_try_at=now,
        attempt_log=[],
        created_at=now,
    )
