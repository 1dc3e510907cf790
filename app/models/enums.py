"""Status vocabularies, stored as plain strings."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user may do: admins everything, editors their own jobs, viewers read."""

    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class JobStatus(StrEnum):
    """A job's derived state, kept in a column for filtering."""

    ACTIVE = "active"
    PAUSED = "paused"
    FAILED = "failed"
    DISABLED = "disabled"
    # Shown, never stored: a one-off that has run and will not fire again
    # (ScheduledJob.shown_status); the column keeps "active" so the engine's rules hold.
    FINISHED = "finished"


class ExecutionStatus(StrEnum):
    """Lifecycle of one execution (one run, or one slot that did not run)."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    MISSED = "missed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True when the execution can change no more."""
        return self not in _OPEN_STATUSES


_OPEN_STATUSES = {ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RUNNING}
# The outcomes that count as failures (a job's failure streak, the failed-tasks page, the
# calendar's failed totals), in the order lists show them.
FAILURE_STATUSES: tuple[str, ...] = (ExecutionStatus.FAILED.value, ExecutionStatus.TIMEOUT.value)


class TriggeredBy(StrEnum):
    """What started an execution."""

    SCHEDULER = "scheduler"
    MANUAL = "manual"
    API = "api"
    RETRY = "retry"


class OverlapPolicy(StrEnum):
    """What to do with a slot when max_instances runs are already going."""

    SKIP = "skip"
    QUEUE = "queue"


class MisfirePolicy(StrEnum):
    """What to do with slots missed while nothing was running."""

    RUN_ONCE = "run_once"
    SKIP = "skip"
    RUN_ALL = "run_all"


class Backoff(StrEnum):
    """How the delay grows between retries."""

    FIXED = "fixed"
    LINEAR = "linear"
    EXPONENTIAL = "exponential"


class RetryStatus(StrEnum):
    """State of a row in the retry table."""

    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    DEAD = "dead"
    DISCARDED = "discarded"


class WebhookPhase(StrEnum):
    """Lifecycle phases a webhook can subscribe to."""

    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    RETRYING = "retrying"
    DEAD = "dead"
    SKIPPED = "skipped"
    MISSED = "missed"


class DeliveryStatus(StrEnum):
    """State of one webhook delivery (one event to one webhook, over its attempts)."""

    PENDING = "pending"  # due at next_try_at: the dispatcher will queue it
    QUEUED = "queued"  # in the RQ queue, waiting for a worker
    SENDING = "sending"  # a worker is sending it
    DELIVERED = "delivered"
    DEAD = "dead"  # no more attempts: exhausted, refused, or the webhook went away


class InstanceRole(StrEnum):
    """Which Almanac process an instance row describes."""

    SCHEDULER = "scheduler"
    WORKER = "worker"
    RETRY = "retry"
