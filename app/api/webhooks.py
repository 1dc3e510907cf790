"""Webhooks and their delivery log."""

from __future__ import annotations

import uuid
from typing import Any

from app.api import serializers, spec
from app.api.common import api_user, parse_body, parse_query, respond
from app.api.ops_schemas import (
    DeliveryList,
    DeliveryListQuery,
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookListQuery,
    WebhookOut,
    WebhookUpdate,
)
from app.api.spec import Link, links_to
from app.extensions import db
from app.models import utcnow
from app.services.events import deliveries, webhooks

_RULE = "/webhooks/<uuid:webhook_id>"
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 422)
_WEBHOOK_LINKS = (
    "get_webhook",
    "update_webhook",
    "delete_webhook",
    "list_deliveries",
    "ping_webhook",
)
_REPLAY = [
    Link(
        "replay_delivery",
        {"webhook_id": "$response.body#/webhookId", "delivery_id": "$response.body#/id"},
    )
]
# What JSON Schema cannot say about a webhook body; the server answers 422 naming the field.
_WEBHOOK_RULES = (
    "Checked by the server (422 names the field): the URL's host must be a destination "
    "Almanac may call (no private, loopback or reserved address unless the admin allowed "
    "its network); statusCode applies only to the phases that have a status; jobId must "
    "name a job you can change (no jobId, every job: admins only)."
)


@spec.route(
    "/webhooks",
    "GET",
    summary="List webhooks",
    tag="webhooks",
    query=WebhookListQuery,
    response=WebhookList,
    links=links_to(*_WEBHOOK_LINKS, webhook_id="$response.body#/webhooks/0/id"),
)
def list_webhooks() -> Any:
    """Webhooks the caller may see, newest first."""
    query = parse_query(WebhookListQuery)
    filters = webhooks.WebhookFilters(**query.model_dump(exclude_none=True))
    page = webhooks.list_webhooks(db.session, api_user(), filters)
    return respond(
        WebhookList(
            webhooks=[serializers.webhook(row) for row in page.items],
            total=page.total,
            page=query.page,
            per_page=query.per_page,
        )
    )


@spec.route(
    "/webhooks",
    "POST",
    summary="Add a webhook",
    tag="webhooks",
    body=WebhookCreate,
    response=WebhookCreated,
    status=201,
    description=_WEBHOOK_RULES,
    links=links_to(*_WEBHOOK_LINKS, webhook_id="$response.body#/id"),
)
def create_webhook() -> Any:
    """A webhook for one job (jobId) or every job (admins); the secret is shown once."""
    body = parse_body(WebhookCreate)
    row = webhooks.create_webhook(
        db.session, api_user(), body.model_dump(exclude_unset=True), utcnow()
    )
    created = WebhookCreated.model_validate(
        serializers.webhook(row).model_dump() | {"secret": row.secret}
    )
    return respond(created, 201)


@spec.route(_RULE, "GET", summary="Read a webhook", tag="webhooks", response=WebhookOut)
def get_webhook(webhook_id: uuid.UUID) -> Any:
    """One webhook."""
    return respond(serializers.webhook(webhooks.get_webhook(db.session, api_user(), webhook_id)))


@spec.route(
    _RULE,
    "PUT",
    summary="Change a webhook",
    tag="webhooks",
    body=WebhookUpdate,
    response=WebhookOut,
    description=_WEBHOOK_RULES,
)
def update_webhook(webhook_id: uuid.UUID) -> Any:
    """Change the given fields of a webhook (a new secret takes effect at once)."""
    body = parse_body(WebhookUpdate)
    data = body.model_dump(exclude_unset=True)
    row = webhooks.update_webhook(db.session, api_user(), webhook_id, data, utcnow())
    return respond(serializers.webhook(row))


@spec.route(_RULE, "DELETE", summary="Delete a webhook", tag="webhooks", status=204)
def delete_webhook(webhook_id: uuid.UUID) -> Any:
    """Remove a webhook and its delivery log."""
    webhooks.delete_webhook(db.session, api_user(), webhook_id)
    return "", 204


@spec.route(
    _RULE + "/deliveries",
    "GET",
    summary="A webhook's delivery log",
    tag="webhooks",
    query=DeliveryListQuery,
    response=DeliveryList,
    links=links_to(
        "replay_delivery",
        webhook_id="$response.body#/deliveries/0/webhookId",
        delivery_id="$response.body#/deliveries/0/id",
    ),
)
def list_deliveries(webhook_id: uuid.UUID) -> Any:
    """Deliveries of one webhook, newest first, with every attempt."""
    query = parse_query(DeliveryListQuery)
    status = query.status.value if query.status else None
    page = deliveries.list_deliveries(
        db.session, api_user(), webhook_id, query.page, query.per_page, status
    )
    return respond(
        DeliveryList(
            deliveries=[serializers.delivery(row) for row in page.items],
            total=page.total,
            page=query.page,
            per_page=query.per_page,
        )
    )


@spec.route(
    _RULE + "/deliveries/<uuid:delivery_id>/replay",
    "POST",
    summary="Send a delivery's event again",
    tag="webhooks",
    status=202,
    response=DeliveryOut,
    errors=_WRITE_ERRORS,
    links=_REPLAY,
)
def replay_delivery(webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> Any:
    """A new delivery of the same event (same id and body), sent within a second or so."""
    row = deliveries.replay(db.session, api_user(), webhook_id, delivery_id, utcnow())
    return respond(serializers.delivery(row), 202)


@spec.route(
    _RULE + "/ping",
    "POST",
    summary="Send a test event",
    tag="webhooks",
    status=202,
    response=DeliveryOut,
    errors=_WRITE_ERRORS,
    links=_REPLAY,
)
def ping_webhook(webhook_id: uuid.UUID) -> Any:
    """A synthetic ``ping`` event, sent like any other and kept in the delivery log."""
    return respond(
        serializers.delivery(deliveries.ping(db.session, api_user(), webhook_id, utcnow())), 202
    )
