"""Request and response shapes of the retry queue and the webhooks (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from app import outbound
from app.api.schemas import ApiModel, Id, Instant, PartialModel, RequestModel, Text
from app.models import DeliveryStatus, RetryStatus, WebhookPhase

# ---- the retry queue -----------------------------------------------------------------


class RetryListQuery(ApiModel):
    """Filters and paging of the retry queue (no status: pending, claimed and dead)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    page: Annotated[int, Field(ge=1, le=100000)] = 1
    per_page: Annotated[int, Field(ge=1, le=100)] = 20
    status: RetryStatus | None = None
    job_id: uuid.UUID | None = None
    q: Annotated[Text, Field(max_length=200)] | None = None
    since: Instant | None = None
    until: Instant | None = None


class RetryItemOut(ApiModel):
    """A failed run waiting for its next attempt, or dead."""

    id: uuid.UUID
    execution_id: uuid.UUID
    job_id: uuid.UUID
    job_name: str
    attempt: int
    next_try_at: datetime
    status: RetryStatus
    last_error: str | None
    abandoned: int
    retry_execution_id: uuid.UUID | None
    claimed_by: str | None
    claimed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RetryList(ApiModel):
    """A page of the retry queue."""

    retries: list[RetryItemOut]
    total: int
    page: int
    per_page: int


class RetryTriggered(ApiModel):
    """The attempt "retry now" started."""

    retry_id: uuid.UUID
    execution_id: uuid.UUID
    rq_job_id: str
    message: str


class RetryBulk(RequestModel):
    """Retry now or discard every open (pending or dead) item matching the filters."""

    action: Literal["trigger", "discard"]
    status: Literal["pending", "dead"] | None = None
    job_id: Id | None = None
    q: Annotated[Text, Field(max_length=200)] | None = None
    since: Instant | None = None
    until: Instant | None = None


class RetryBulkResult(ApiModel):
    """How many items the bulk action took."""

    action: str
    count: int
    execution_ids: list[uuid.UUID]


# ---- webhooks --------------------------------------------------------------------------

Url = Annotated[str, Field(min_length=1, max_length=2048, pattern=outbound.URL_PATTERN)]
StatusCode = Annotated[str, Field(pattern=r"^[1-5]([0-9]{2}|xx)$")]
Secret = Annotated[str, Field(min_length=16, max_length=255, pattern=r"^[!-~]+$")]


class WebhookFields(PartialModel):
    """Writable webhook fields (all optional: used for PUT); null clears the match or job."""

    nullable = frozenset({"status_code", "job_id", "description"})

    url: Url | None = None
    phase: WebhookPhase | None = None
    status_code: StatusCode | None = None
    job_id: Id | None = None
    secret: Secret | None = None
    description: Annotated[Text, Field(max_length=500)] | None = None
    is_active: bool | None = None


class WebhookCreate(WebhookFields):
    """A new webhook: where and for which phase; no jobId means every job."""

    url: Url
    phase: WebhookPhase


class WebhookUpdate(WebhookFields):
    """Changed fields only."""


class WebhookOut(ApiModel):
    """A webhook as the API shows it (the secret itself only when created)."""

    id: uuid.UUID
    job_id: uuid.UUID | None
    phase: WebhookPhase
    status_code: str | None
    url: str
    secret_hint: str
    description: str | None
    is_active: bool
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    """A new webhook with its signing secret, shown this once."""

    secret: str


class WebhookListQuery(ApiModel):
    """Filters and paging of the webhook list."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    page: Annotated[int, Field(ge=1, le=100000)] = 1
    per_page: Annotated[int, Field(ge=1, le=100)] = 20
    job_id: uuid.UUID | None = None
    phase: WebhookPhase | None = None


class WebhookList(ApiModel):
    """A page of webhooks."""

    webhooks: list[WebhookOut]
    total: int
    page: int
    per_page: int


class DeliveryListQuery(ApiModel):
    """Filters and paging of a webhook's delivery log."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    page: Annotated[int, Field(ge=1, le=100000)] = 1
    per_page: Annotated[int, Field(ge=1, le=100)] = 20
    status: DeliveryStatus | None = None


class DeliveryOut(ApiModel):
    """One event sent to one webhook: the last attempt in full, every attempt in brief."""

    id: uuid.UUID
    webhook_id: uuid.UUID
    execution_id: uuid.UUID | None
    event_id: str
    # "ping" marks a test event sent by POST /webhooks/{id}/ping.
    phase: WebhookPhase | Literal["ping"]
    status: DeliveryStatus
    payload: dict[str, Any]
    url: str | None
    request_headers: dict[str, str] | None
    response_status: int | None
    response_excerpt: str | None
    duration_ms: float | None
    error: str | None
    attempts: int
    attempt_log: list[dict[str, Any]]
    next_try_at: datetime | None
    delivered_at: datetime | None
    replay_of: uuid.UUID | None
    created_at: datetime


class DeliveryList(ApiModel):
    """A page of a webhook's deliveries."""

    deliveries: list[DeliveryOut]
    total: int
    page: int
    per_page: int
