"""The retry queue: failed runs waiting for their next attempt, and dead ones."""

from __future__ import annotations

import uuid
from typing import Any

from app.api import serializers, spec
from app.api.common import api_user, parse_body, parse_query, respond
from app.api.ops_schemas import (
    RetryBulk,
    RetryBulkResult,
    RetryItemOut,
    RetryList,
    RetryListQuery,
    RetryTriggered,
)
from app.api.spec import links_to
from app.extensions import db
from app.models import utcnow
from app.queues import recurrence
from app.services.failures import retry_queue
from app.services.ledger.recurrence import rq_job_id

_RULE = "/retries/<uuid:retry_id>"
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 422)
_ITEM_LINKS = ("get_retry", "trigger_retry", "discard_retry")


@spec.route(
    "/retries",
    "GET",
    summary="The retry queue",
    tag="retries",
    query=RetryListQuery,
    response=RetryList,
    links=links_to(*_ITEM_LINKS, retry_id="$response.body#/retries/0/id"),
)
def list_retries() -> Any:
    """Retry items (pending, claimed and dead unless a status is given), soonest first."""
    query = parse_query(RetryListQuery)
    filters = retry_queue.RetryFilters(**query.model_dump(exclude_none=True))
    page = retry_queue.list_items(db.session, api_user(), filters)
    return respond(
        RetryList(
            retries=[serializers.retry_item(item) for item in page.items],
            total=page.total,
            page=query.page,
            per_page=query.per_page,
        )
    )


@spec.route(
    _RULE,
    "GET",
    summary="One retry item",
    tag="retries",
    response=RetryItemOut,
    links=links_to("trigger_retry", "discard_retry", retry_id="$response.body#/id")
    + links_to("get_execution", execution_id="$response.body#/executionId"),
)
def get_retry(retry_id: uuid.UUID) -> Any:
    """A retry item."""
    return respond(serializers.retry_item(retry_queue.get_item(db.session, api_user(), retry_id)))


@spec.route(
    _RULE + "/trigger",
    "POST",
    summary="Retry now (ignores the backoff)",
    tag="retries",
    status=202,
    response=RetryTriggered,
    errors=_WRITE_ERRORS,
    links=links_to("get_execution", execution_id="$response.body#/executionId"),
)
def trigger_retry(retry_id: uuid.UUID) -> Any:
    """Start the next attempt of a pending or dead item at once."""
    retried = retry_queue.retry_now(db.session, api_user(), retry_id, utcnow(), recurrence())
    execution = retried.executions[0]
    body = RetryTriggered(
        retry_id=retry_id,
        execution_id=execution.id,
        rq_job_id=rq_job_id(execution.id),
        message=retried.message,
    )
    return respond(body, 202)


@spec.route(
    _RULE,
    "DELETE",
    summary="Discard a retry item",
    tag="retries",
    status=204,
    errors=_WRITE_ERRORS,
)
def discard_retry(retry_id: uuid.UUID) -> Any:
    """No further attempt for this run."""
    retry_queue.discard(db.session, api_user(), retry_id, utcnow())
    return "", 204


@spec.route(
    "/retries/bulk",
    "POST",
    summary="Retry now or discard every open item matching a filter",
    tag="retries",
    body=RetryBulk,
    response=RetryBulkResult,
    errors=_WRITE_ERRORS,
    links=links_to("get_execution", execution_id="$response.body#/executionIds/0"),
)
def bulk_retries() -> Any:
    """Bulk retry now / discard of pending and dead items (at most 10,000 at once)."""
    body = parse_body(RetryBulk)
    filters = retry_queue.RetryFilters(**body.model_dump(exclude_none=True, exclude={"action"}))
    count, retried = retry_queue.bulk(
        db.session, api_user(), body.action, filters, utcnow(), recurrence()
    )
    return respond(
        RetryBulkResult(
            action=body.action, count=count, execution_ids=[e.id for e in retried.executions]
        )
    )
