"""Webhooks: who may manage which, and the events a run's lifecycle emits.

``emit`` is called inside the transaction that records a lifecycle change, so
an event exists exactly when its change committed. It only writes delivery
rows (``pending``, due now); the retry process queues them and RQ workers
send them (``deliveries``), so a slow or failing receiver never holds up a
run, a claim or the scheduler.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select

from app import outbound, signing
from app.extensions import DbSession
from app.i18n import _
from app.models import (
    DeliveryStatus,
    Execution,
    RetryItem,
    ScheduledJob,
    User,
    Webhook,
    WebhookDelivery,
    WebhookPhase,
    utcnow,
)
from app.services import access, audit_trail
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.paging import Page, page_of

# Phases that describe how a run ended: the webhook's status match applies to these.
# (Public: the settings page shows which phases take a status.)
HTTP_STATUS_PHASES = {
    WebhookPhase.SUCCEEDED,
    WebhookPhase.FAILED,
    WebhookPhase.RETRYING,
    WebhookPhase.DEAD,
}


def new_event_id() -> str:
    """An event id: the same on every attempt, so receivers can dedupe."""
    return f"evt_{uuid.uuid4().hex}"


def status_matches(pattern: str | None, http_status: int | None) -> bool:
    """A webhook's status match: none (always), exact ``503`` or class ``5xx``."""
    if pattern is None:
        return True
    if http_status is None:
        return False
    if pattern.endswith("xx"):
        return str(http_status)[0] == pattern[0]
    return str(http_status) == pattern


def listened(phase: WebhookPhase, job_id: uuid.UUID | ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL: an active webhook may want this phase of the job's runs (``emit`` would look).

    The worker asks it inside the statement that records a start or an end
    (in its RETURNING), or in the read before it (the run's ``job_id``
    column), so a run of a job without webhooks spends no round trip on
    them. In a RETURNING the job is a value, not a column: SQLite renders
    RETURNING columns unqualified, where ``job_id`` would mean the webhook's
    own.
    """
    return (
        select(Webhook.id)
        .where(
            Webhook.is_active,
            Webhook.phase == phase.value,
            or_(Webhook.job_id.is_(None), Webhook.job_id == job_id),
        )
        .exists()
    )


def emit(
    session: DbSession,
    phase: WebhookPhase,
    row: Execution,
    now: datetime,
    *,
    retry: RetryItem | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Record one event for every active webhook that wants it; returns how many."""
    job_id = row.job_id if row.job_id is not None else row.job.id  # a new row: not flushed yet
    hooks = session.scalars(
        select(Webhook).where(
            Webhook.is_active,
            Webhook.phase == phase.value,
            or_(Webhook.job_id.is_(None), Webhook.job_id == job_id),
        )
    ).all()
    wanted = [hook for hook in hooks if status_matches(hook.status_code, row.http_status)]
    if not wanted:
        return 0
    event_id = new_event_id()
    body = event_payload(event_id, phase, row, now, retry, extra)
    for hook in wanted:
        session.add(
            WebhookDelivery(
                id=uuid.uuid4(),
                webhook_id=hook.id,
                execution_id=row.id,
                event_id=event_id,
                phase=phase.value,
                payload=body,
                status=DeliveryStatus.PENDING.value,
                next_try_at=now,
                attempt_log=[],
                created_at=now,
            )
        )
    return len(wanted)


def event_payload(
    event_id: str,
    phase: WebhookPhase,
    row: Execution,
    now: datetime,
    retry: RetryItem | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of an event (docs/WEBHOOKS.md documents every field)."""
    job = row.job
    return {
        "eventId": event_id,
        "phase": phase.value,
        "occurredAt": iso(now),
        "job": {"id": str(job.id), "name": job.name, "taskFunction": job.task_function.name},
        "execution": {
            "id": str(row.id),
            "status": row.status,
            "attempt": row.attempt,
            "triggeredBy": row.triggered_by,
            "retryOf": str(row.retry_of) if row.retry_of else None,
            "scheduledFor": iso(row.scheduled_for),
            "startedAt": iso(row.started_at),
            "completedAt": iso(row.completed_at),
            "durationSeconds": row.duration_seconds,
            "httpStatus": row.http_status,
            "error": row.error_message,
            "reason": row.reason,
        },
        "retry": _retry_payload(retry),
        **(extra or {}),
    }


def _retry_payload(item: RetryItem | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {
        "id": str(item.id),
        "status": item.status,
        "nextAttempt": item.attempt,
        "nextTryAt": iso(item.next_try_at) if item.status == "pending" else None,
    }


def iso(moment: datetime | None) -> str | None:
    """UTC instant as events carry it: ISO-8601 with microseconds, ending in Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


# ---- managing webhooks ---------------------------------------------------------------


@dataclass(frozen=True)
class WebhookFilters:
    """What the webhook list filters by."""

    page: int = 1
    per_page: int = 20
    job_id: uuid.UUID | None = None
    phase: str | None = None


WebhookRef = Webhook | uuid.UUID


def visible_webhooks(user: User) -> Select[Webhook]:
    """Webhooks this user may see (``access.webhook_condition``)."""
    return select(Webhook).where(access.webhook_condition(user))


def list_webhooks(session: DbSession, user: User, filters: WebhookFilters) -> Page[Webhook]:
    """A page of webhooks, newest first, and the total."""
    query = visible_webhooks(user)
    if filters.job_id is not None:
        query = query.where(Webhook.job_id == filters.job_id)
    if filters.phase is not None:
        query = query.where(Webhook.phase == filters.phase)
    order = (Webhook.created_at.desc(), Webhook.id)
    return page_of(session, query, order, filters.page, filters.per_page)


def applying_to(session: DbSession, user: User, job_id: uuid.UUID) -> list[Webhook]:
    """The visible webhooks that fire for a job: its own and the global ones."""
    query = visible_webhooks(user).where(or_(Webhook.job_id == job_id, Webhook.job_id.is_(None)))
    return list(session.scalars(query.order_by(Webhook.created_at, Webhook.id).limit(100)))


def get_webhook(session: DbSession, user: User, webhook: WebhookRef) -> Webhook:
    """A webhook (or its id) this user may see, else NotFound."""
    webhook_id = webhook if isinstance(webhook, uuid.UUID) else webhook.id
    row: Webhook | None = session.scalar(visible_webhooks(user).where(Webhook.id == webhook_id))
    if row is None:
        raise NotFound(_("No such webhook."))
    return row


def require_change(session: DbSession, user: User, job_id: uuid.UUID | None) -> None:
    """Admins manage every webhook; editors those of their own jobs; viewers none."""
    access.require_writer(user, _("Viewers cannot change webhooks."))
    if job_id is None:
        access.require_admin(user, _("Only admins may add webhooks for every job."))
        return
    visible = access.visible_jobs(user).where(ScheduledJob.id == job_id)
    if session.scalar(visible.with_only_columns(ScheduledJob.id)) is None:
        raise Invalid(_("No such job."), {"job_id": _("no such job")})


def create_webhook(session: DbSession, user: User, data: dict[str, Any], now: datetime) -> Webhook:
    """Store a new webhook (a secret is generated unless one is given) and commit."""
    row = _new_webhook(session, user, data, now)
    session.add(row)
    _record(session, user, row, "created", _fields(row), now)
    session.commit()
    return row


def create_webhooks(
    session: DbSession,
    user: User,
    data: dict[str, Any],
    job_ids: list[uuid.UUID | None],
    now: datetime,
) -> list[Webhook]:
    """One webhook per job (None: every job) with the same URL, phase, match and secret.

    All are checked before any is stored, and one commit stores them all: a
    refusal for one job leaves none behind.
    """
    secret = data.get("secret") or signing.new_secret()
    unique = list(dict.fromkeys(job_ids))
    rows = [
        _new_webhook(session, user, data | {"job_id": job, "secret": secret}, now) for job in unique
    ]
    session.add_all(rows)
    for row in rows:
        _record(session, user, row, "created", _fields(row), now)
    session.commit()
    return rows


def _new_webhook(session: DbSession, user: User, data: dict[str, Any], now: datetime) -> Webhook:
    """A checked, unsaved webhook: the user's rights on its job, the phase's match, the URL."""
    job_id = data.get("job_id")
    require_change(session, user, job_id)
    row = Webhook(
        id=uuid.uuid4(),
        job_id=job_id,
        phase=data["phase"],
        status_code=data.get("status_code"),
        url=data["url"],
        secret=data.get("secret") or signing.new_secret(),
        description=data.get("description"),
        is_active=data.get("is_active", True),
        created_by=user.id,
        created_at=now,
        updated_at=now,
    )
    _check_status_phase(row)
    _check_url(row.url)
    return row


def update_webhook(
    session: DbSession, user: User, webhook: WebhookRef, data: dict[str, Any], now: datetime
) -> Webhook:
    """Change some fields and commit; moving it to another job needs rights on both."""
    row = get_webhook(session, user, webhook)
    require_change(session, user, row.job_id)
    if "job_id" in data and data["job_id"] != row.job_id:
        require_change(session, user, data["job_id"])
    before, old_secret = _fields(row), row.secret
    for key, value in data.items():
        setattr(row, key, value)
    _check_status_phase(row)
    _check_url(row.url)
    row.updated_at = now
    changes = audit_trail.diff(before, _fields(row))
    if row.secret != old_secret:  # never the secret itself
        changes["secret"] = {"from": None, "to": audit_trail.ROTATED}
    if changes:
        _record(session, user, row, _update_action(changes, row), changes, now)
    session.commit()
    return row


# What the trail shows of a webhook (never its secret).
_SHOWN = ("url", "phase", "status_code", "job_id", "description", "is_active")


def _fields(row: Webhook) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _SHOWN}


def _update_action(changes: dict[str, Any], row: Webhook) -> str:
    """A switch on or off, or a new secret alone, is its own kind of change."""
    if set(changes) == {"secret"}:
        return "secret_rotated"
    if set(changes) == {"is_active"}:
        return "enable" if row.is_active else "disable"
    return "updated"


def _record(
    session: DbSession,
    user: User,
    row: Webhook,
    action: str,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    audit_trail.record(session, user, audit_trail.WEBHOOK, row.id, action, changes, now)


def _check_status_phase(row: Webhook) -> None:
    if row.status_code is not None and WebhookPhase(row.phase) not in HTTP_STATUS_PHASES:
        allowed = ", ".join(sorted(p.value for p in HTTP_STATUS_PHASES))
        raise Invalid(
            _("statusCode only applies to the phases {allowed}.").format(allowed=allowed),
            {"status_code": _("only for the phases {allowed}").format(allowed=allowed)},
        )


def _check_url(url: str) -> None:
    """Refuse at once what the outbound guard would refuse at every send."""
    try:
        outbound.check_destination(url)
    except outbound.OutboundError as error:
        raise Invalid(f"url: {error}", {"url": str(error)}) from None


def rotate_secret(session: DbSession, user: User, webhook: WebhookRef, now: datetime) -> Webhook:
    """A new signing secret, in effect at once (receivers must switch to it); commit."""
    return update_webhook(session, user, webhook, {"secret": signing.new_secret()}, now)


def may_change(session: DbSession, user: User, row: Webhook) -> bool:
    """The yes/no of ``require_change`` (pages show write controls only when it holds)."""
    try:
        require_change(session, user, row.job_id)
    except (Forbidden, Invalid):
        return False
    return True


def may_cover_every_job(session: DbSession, user: User) -> bool:
    """May this user add a webhook for every job (``require_change`` with no job: admins)."""
    try:
        require_change(session, user, None)
    except Forbidden:
        return False
    return True


def job_choices(session: DbSession, user: User, limit: int) -> list[ScheduledJob]:
    """Live jobs this user may attach a webhook to, by name (at most ``limit``)."""
    query = access.visible_jobs(user).where(access.changeable_job_condition(user))
    return list(session.scalars(query.order_by(ScheduledJob.name, ScheduledJob.id).limit(limit)))


def job_names(session: DbSession, job_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Names of the jobs webhooks point at (one query for a whole page of webhooks)."""
    if not job_ids:
        return {}
    query = select(ScheduledJob.id, ScheduledJob.name).where(ScheduledJob.id.in_(job_ids))
    return {job_id: name for job_id, name in session.execute(query)}


def delete_webhook(session: DbSession, user: User, webhook: WebhookRef) -> None:
    """Remove a webhook and its delivery log, and commit."""
    row = get_webhook(session, user, webhook)
    require_change(session, user, row.job_id)
    # Its URL stays readable in the trail after the row is gone.
    _record(session, user, row, "deleted", {"url": row.url, "phase": row.phase}, utcnow())
    session.delete(row)
    session.commit()


__all__ = [
    "HTTP_STATUS_PHASES",
    "WebhookFilters",
    "applying_to",
    "create_webhook",
    "create_webhooks",
    "delete_webhook",
    "emit",
    "event_payload",
    "get_webhook",
    "iso",
    "job_choices",
    "job_names",
    "list_webhooks",
    "may_change",
    "may_cover_every_job",
    "new_event_id",
    "require_change",
    "rotate_secret",
    "status_matches",
    "update_webhook",
    "visible_webhooks",
]
