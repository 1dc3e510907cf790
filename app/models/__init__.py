"""All models, importable from one place (Alembic autogenerate needs them loaded)."""

from app.models.audit import AuditEvent
from app.models.calendar import CalendarFeedToken
from app.models.cluster import LeaderLease, SchedulerInstance
from app.models.defaults import DEFAULTS_ROW_ID, JobDefaults
from app.models.enums import (
    FAILURE_STATUSES,
    Backoff,
    DeliveryStatus,
    ExecutionStatus,
    InstanceRole,
    JobStatus,
    MisfirePolicy,
    OverlapPolicy,
    RetryStatus,
    Role,
    TriggeredBy,
    WebhookPhase,
)
from app.models.executions import Execution, RetryItem
from app.models.jobs import JobType, ScheduledJob, TaskFunction
from app.models.types import UTCDateTime, utcnow
from app.models.users import ApiToken, User
from app.models.webhooks import Webhook, WebhookDelivery

__all__ = [
    "DEFAULTS_ROW_ID",
    "FAILURE_STATUSES",
    "ApiToken",
    "AuditEvent",
    "Backoff",
    "CalendarFeedToken",
    "DeliveryStatus",
    "Execution",
    "ExecutionStatus",
    "InstanceRole",
    "JobDefaults",
    "JobStatus",
    "JobType",
    "LeaderLease",
    "MisfirePolicy",
    "OverlapPolicy",
    "RetryItem",
    "RetryStatus",
    "Role",
    "ScheduledJob",
    "SchedulerInstance",
    "TaskFunction",
    "TriggeredBy",
    "UTCDateTime",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WebhookPhase",
    "utcnow",
]
