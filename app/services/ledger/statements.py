"""The statements every run sends (claim, summary, end), built once with bound parameters.

A worker sends three or four statements per run (docs/ARCHITECTURE.md, "A
run's database work"). Built per call, SQLAlchemy spent
more time constructing and coercing them (and, for ORM-enabled updates,
matching them against the session) than PostgreSQL spent running them; built
once here, each call only binds its values and finds its compiled form in
the engine's cache. The updates are Core statements on the tables: they
return the columns the worker needs, not ORM objects.

Parameters (one name each, whichever statement uses it; an update's
parameters may not be named after its columns): ``run`` and ``job`` (ids),
``slot`` (scheduled_for), ``now``, ``worker``, ``enqueued``, ``started``,
``outcome`` (status); for ``end`` also ``duration``, ``value`` (result),
``error``, ``trace``, ``log``, ``http``.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    Update,
    bindparam,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import aliased, contains_eager, joinedload, lazyload, load_only

from app.models import Execution, ExecutionStatus, ScheduledJob, TaskFunction, WebhookPhase
from app.services.events import webhooks
from app.services.ledger import overlap

CLAIMABLE = (ExecutionStatus.PENDING.value, ExecutionStatus.QUEUED.value)
_RUNNING = ExecutionStatus.RUNNING.value
_Running = aliased(Execution)
_runs = Execution.__table__
_jobs = ScheduledJob.__table__


def _instant(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=_runs.c.started_at.type)


# The run with what a worker reads of its job (its limit, task and arguments;
# anything else loads on access while the session is open), and whether a
# webhook listens for its start. No lock: a claim that counts running runs
# takes its job's row first (``runs.lock_jobs``); the run itself is changed
# by the conditional update that follows.
WITH_JOB = (
    select(Execution, webhooks.listened(WebhookPhase.STARTED, _runs.c.job_id).label("listened"))
    .join(Execution.job)
    .options(
        contains_eager(Execution.job).options(
            load_only(
                ScheduledJob.max_instances, ScheduledJob.task_args, ScheduledJob.timeout_seconds
            ),
            joinedload(ScheduledJob.task_function).load_only(TaskFunction.name),
            lazyload(ScheduledJob.job_type),
        )
    )
    .where(Execution.id == bindparam("run"))
    .execution_options(populate_existing=True)
)


@functools.cache
def claim(limited: bool) -> Update:
    """Running, if still claimable and (``limited``) the overlap rule allows it.

    Returns one row, ``listened``: whether any webhook listens for starts.
    """
    running = (
        select(func.count())
        .select_from(_Running)
        .where(_Running.job_id == bindparam("job"), _Running.status == _RUNNING)
        .scalar_subquery()
    )
    statement = (
        update(_runs)
        .where(_runs.c.id == bindparam("run"), _runs.c.status.in_(CLAIMABLE))
        .where(~overlap.is_held())
        .values(
            status=_RUNNING,
            started_at=_instant("now"),
            worker_name=bindparam("worker"),
            queued_at=_instant("enqueued"),
        )
        .returning(webhooks.listened(WebhookPhase.STARTED, bindparam("job")).label("listened"))
    )
    if limited:
        # The limit as it is now, read after the job's lock like the count: an edit
        # committed while this claim waited for the lock is obeyed.
        limit = select(_jobs.c.max_instances).where(_jobs.c.id == bindparam("job"))
        # Slots start in order: none overtakes an older slot still waiting its turn.
        statement = statement.where(
            running < limit.scalar_subquery(),
            ~overlap.waiting_before(bindparam("job"), bindparam("slot")),
        )
    return statement


@functools.cache
def summary(failed: bool) -> Update:
    """The job's last_run_time, last_status and failure streak."""
    streak: Any = (_jobs.c.consecutive_failures + 1) if failed else 0
    return (
        update(_jobs)
        .where(_jobs.c.id == bindparam("job"))
        .values(
            last_run_time=_instant("started"),
            last_status=bindparam("outcome"),
            consecutive_failures=streak,
        )
    )


@functools.cache
def end(phase: WebhookPhase) -> Update:
    """The run's end, if it is still running; returns ``listened`` for ``phase``."""
    return (
        update(_runs)
        .where(_runs.c.id == bindparam("run"), _runs.c.status == _RUNNING)
        .values(
            status=bindparam("outcome"),
            completed_at=_instant("now"),
            duration_seconds=bindparam("duration"),
            # None is SQL NULL, as the ORM writes it, not the JSON text 'null'.
            result=bindparam("value", type_=JSON(none_as_null=True)),
            error_message=bindparam("error"),
            error_traceback=bindparam("trace"),
            log_output=bindparam("log"),
            http_status=bindparam("http"),
        )
        .returning(webhooks.listened(phase, bindparam("job")).label("listened"))
    )


@functools.cache
def summary_then_end(failed: bool, phase: WebhookPhase) -> Update:
    """PostgreSQL: ``summary`` and ``end`` in one statement, the job's row locked first.

    The summary is a data-modifying CTE that the end's WHERE tests with an
    uncorrelated EXISTS: PostgreSQL evaluates that once, before it scans for
    the run (a one-time filter), so the job's row is locked before the run's,
    the order everyone locks in. Nothing is kept unless the caller commits,
    which it does only when the run was still running.
    """
    done = summary(failed).returning(_jobs.c.id).cte("summary")
    return end(phase).where(exists(select(literal(1)).select_from(done)))


__all__ = ["CLAIMABLE", "WITH_JOB", "claim", "end", "summary", "summary_then_end"]
