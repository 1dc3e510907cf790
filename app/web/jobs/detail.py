"""One job's page: its settings in words, upcoming and recent runs, the ledger, a chart, retries,
webhooks and the audit trail. Every read goes through a service (``access`` decides)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import request
from flask_babel import format_decimal, format_timedelta
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from app import htmx, timemath
from app.extensions import db
from app.models import Execution, ScheduledJob, User, utcnow
from app.services import access
from app.services.events import webhooks
from app.services.failures.retry_queue import RetryFilters, list_items
from app.services.ledger.executions import HistoryFilters, list_executions_keyset
from app.services.scheduling import audit, jobs, schedule
from app.web.jobs import args, bp
from app.web.jobs.schedule_words import schedule_words

UPCOMING = 20
SHEET_UPCOMING = 5  # fire times the side sheet lists (the page lists UPCOMING)
RUNS_PER_PAGE = 20
CHART_RUNS = 100
_FINISHED = ("success", "failed", "timeout")
_NOT_RUN = ("skipped", "missed")


@dataclass(frozen=True)
class Bar:
    """One run in the chart: its place, height (0-100) and outcome."""

    x: int
    height: int
    status: str
    run: Execution


@dataclass(frozen=True)
class Chart:
    """Duration and outcome of the last finished runs, oldest first."""

    bars: list[Bar]
    success_rate: float | None
    longest: float


@dataclass(frozen=True)
class Change:
    """One field of one audit event, before and after (sensitive task arguments masked)."""

    field: str
    before: Any
    after: Any
    paired: bool = True  # False: a value as it was set (a new object's), no "before"


def upcoming_times(
    job: ScheduledJob, now: datetime, count: int = UPCOMING
) -> list[schedule.PreviewTime]:
    """The job's next ``count`` fire times with their DST flags (none unless it is schedulable)."""
    if not job.is_schedulable:
        return []
    trigger, zone = schedule.trigger_of(job), schedule.zone_of(job)
    times = []
    for moment in schedule.upcoming(job, now, count):
        flags = timemath.classify_fire(trigger, moment, zone)
        times.append(
            schedule.PreviewTime(moment, moment.astimezone(zone), flags.shifted, flags.repeated)
        )
    return times


def chart_of(runs: list[Execution]) -> Chart:
    """Bars for the finished runs among ``runs`` (newest first in, oldest first out)."""
    finished = [run for run in reversed(runs) if run.status in _FINISHED]
    longest = max((run.duration_seconds or 0 for run in finished), default=0) or 1
    bars = [
        Bar(i * 6, max(2, round(100 * (run.duration_seconds or 0) / longest)), run.status, run)
        for i, run in enumerate(finished)
    ]
    ok = sum(run.status == "success" for run in finished)
    rate = 100 * ok / len(finished) if finished else None
    return Chart(bars, rate, longest)


def _masked(value: Any, schema: dict[str, Any]) -> Any:
    return args.hide_sensitive(value, schema)


def changes_of(changes: dict[str, Any], schema: dict[str, Any]) -> list[Change]:
    """An audit event's changes as rows; values of sensitive task arguments are hidden."""
    rows = []
    for name, value in sorted((changes or {}).items()):
        is_pair = isinstance(value, dict) and set(value) == {"from", "to"}
        before, after = (value["from"], value["to"]) if is_pair else (None, value)
        if name == "task_args":
            before, after = _masked(before, schema), _masked(after, schema)
        rows.append(Change(name, before, after, is_pair))
    return rows


def _not_run(job: ScheduledJob) -> list[Execution]:
    """The latest skipped and missed slots (the ledger: why didn't it run?)."""
    rows: list[Execution] = []
    for status in _NOT_RUN:
        filters = HistoryFilters(job_id=job.id, status=status)
        rows += list_executions_keyset(db.session, current_user, filters, None, 10).items
    return sorted(rows, key=lambda row: (row.created_at, str(row.id)), reverse=True)[:10]


def _emails(user_ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """E-mail addresses of the given users, in one query."""
    ids = [user_id for user_id in user_ids if user_id]
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {user_id: email for user_id, email in rows}


@bp.route("/jobs/<uuid:job_id>")
@login_required  # type: ignore[untyped-decorator]
def detail(job_id: uuid.UUID) -> Response:
    """A job's page; with htmx and a cursor, only the next page of its recent runs.

    With htmx and ``?sheet=1`` (the calendar's side sheet), only the job's summary.
    """
    job = jobs.get_job(db.session, current_user, job_id)
    if request.args.get("sheet") and htmx.is_partial_request():
        return htmx.render("jobs/detail.html", "jobs/_sheet.html", **_sheet_context(job))
    cursor = request.args.get("cursor") or None
    runs = list_executions_keyset(
        db.session, current_user, HistoryFilters(job_id=job.id), cursor, RUNS_PER_PAGE
    )
    if cursor and htmx.is_partial_request():
        return htmx.render("jobs/detail.html", "jobs/_runs.html", job=job, runs=runs)
    return htmx.render("jobs/detail.html", "jobs/_runs.html", **_page_context(job, runs))


def _sheet_context(job: ScheduledJob) -> dict[str, Any]:
    """The job's summary for the side sheet (the calendar opens it): no runs, chart or history."""
    return {
        "job": job,
        "can_change": access.can_change_job(current_user, job),
        "upcoming": upcoming_times(job, utcnow(), SHEET_UPCOMING),
        "schedule": schedule_words(job),
    }


def _page_context(job: ScheduledJob, runs: Any) -> dict[str, Any]:
    """Everything the whole job page shows besides the first page of runs."""
    now = utcnow()
    latest = list_executions_keyset(
        db.session, current_user, HistoryFilters(job_id=job.id), None, CHART_RUNS
    )
    events = audit.list_events(db.session, current_user, job_id=job.id, limit=20).items
    schema = job.task_function.args_schema or {}
    return {
        "job": job,
        "runs": runs,
        "can_change": access.can_change_job(current_user, job),
        "upcoming": upcoming_times(job, now),
        "days": _days(job),
        "schedule": schedule_words(job),
        "not_run": _not_run(job),
        "chart": chart_of(latest.items),
        "retries": list_items(
            db.session, current_user, RetryFilters(job_id=job.id, status="pending")
        ).items,
        "hooks": webhooks.applying_to(db.session, current_user, job.id),
        "events": [(event, changes_of(event.changes, schema)) for event in events],
        "emails": _emails({event.user_id for event in events} | {job.owner_id}),
        "shown_args": args.hide_sensitive(job.task_args, schema),
    }


def _days(job: ScheduledJob) -> str | None:
    """A cron job's day rule in words."""
    expression = (job.schedule_config or {}).get("expression")
    return timemath.describe_days(str(expression)) if job.job_type.name == "cron" else None


@bp.app_template_filter("seconds")
def seconds_text(value: float | None) -> str:
    """A duration in seconds as short words in the page's language (``1.5 s``, ``3 min``)."""
    if value is None:
        return "—"
    if value < 60:
        return str(_("%(n)s s", n=format_decimal(round(value, 2))))
    return str(format_timedelta(timedelta(seconds=value), granularity="second", threshold=1))


@bp.app_template_global()
def lateness(run: Execution) -> str:
    """How late a run started after its slot, or a dash."""
    if run.started_at is None or run.scheduled_for is None:
        return "—"
    return seconds_text(max(0.0, (run.started_at - run.scheduled_for).total_seconds()))
