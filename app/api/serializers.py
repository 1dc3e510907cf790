"""Model rows to API shapes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app import signing
from app.api import meta_schemas, ops_schemas, schemas
from app.models import (
    Execution,
    RetryItem,
    ScheduledJob,
    SchedulerInstance,
    TaskFunction,
    Webhook,
    WebhookDelivery,
)
from app.services.scheduling import sensitive


def _columns(row: Any, model: type[BaseModel], skip: set[str]) -> dict[str, Any]:
    """Attributes of ``row`` named like the model's fields."""
    return {name: getattr(row, name) for name in model.model_fields if name not in skip}


def job(row: ScheduledJob) -> schemas.Job:
    """A job as the API shows it."""
    data = _columns(row, schemas.Job, {"task_function", "job_type", "queue", "status"})
    data.update(
        status=row.shown_status,
        task_function=row.task_function.name,
        job_type=row.job_type.name,
        queue=row.effective_queue,
        task_args=sensitive.redact(row.task_function.name, row.task_args or {}),
    )
    return schemas.Job.model_validate(data)


def job_detail(
    row: ScheduledJob, next_run_times: list[Any], recent: list[Execution]
) -> schemas.JobDetail:
    """A job with upcoming fire times and recent executions."""
    base = job(row).model_dump()
    return schemas.JobDetail.model_validate(
        {
            **base,
            "next_run_times": next_run_times,
            "recent_executions": [execution(item) for item in recent],
        }
    )


def execution(row: Execution) -> schemas.ExecutionSummary:
    """An execution, as listed."""
    data = _columns(row, schemas.ExecutionSummary, {"job_name"})
    data["job_name"] = row.job.name if row.job else None
    return schemas.ExecutionSummary.model_validate(data)


def execution_detail(row: Execution) -> schemas.ExecutionDetail:
    """An execution with result, log and traceback."""
    data = _columns(row, schemas.ExecutionDetail, {"job_name"})
    data["job_name"] = row.job.name if row.job else None
    return schemas.ExecutionDetail.model_validate(data)


def task_function(row: TaskFunction) -> meta_schemas.TaskFunctionOut:
    """A registered task."""
    return meta_schemas.TaskFunctionOut.model_validate(
        _columns(row, meta_schemas.TaskFunctionOut, set())
    )


def instance(row: SchedulerInstance) -> meta_schemas.InstanceOut:
    """A process instance."""
    return meta_schemas.InstanceOut.model_validate(_columns(row, meta_schemas.InstanceOut, set()))


def retry_item(row: RetryItem) -> ops_schemas.RetryItemOut:
    """A retry item with its job's name."""
    data = _columns(row, ops_schemas.RetryItemOut, {"job_name"})
    return ops_schemas.RetryItemOut.model_validate(data | {"job_name": row.job.name})


def webhook(row: Webhook) -> ops_schemas.WebhookOut:
    """A webhook with a hint of its secret, never the secret."""
    data = _columns(row, ops_schemas.WebhookOut, {"secret_hint"})
    return ops_schemas.WebhookOut.model_validate(data | {"secret_hint": signing.hint(row.secret)})


def delivery(row: WebhookDelivery) -> ops_schemas.DeliveryOut:
    """One delivery with its attempt log."""
    data = _columns(row, ops_schemas.DeliveryOut, {"attempt_log"})
    return ops_schemas.DeliveryOut.model_validate(data | {"attempt_log": row.attempt_log or []})
