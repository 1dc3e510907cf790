"""The jobs table: ``/`` and ``/jobs``, full page or htmx partial, and its rows' live refresh."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.models import ExecutionStatus, JobStatus, ScheduledJob, TaskFunction, User, utcnow
from app.services import access
from app.services.scheduling.jobs import JobFilters, list_jobs
from app.services.scheduling.summaries import JobSummary, changed_since, job_summaries
from app.web.jobs import bp
from app.web.jobs.schedule_words import schedule_words
from app.web.urlstate import UrlState

PER_PAGE = 20
MAX_QUERY = 200
# URL value → service sort key: every column the service can sort by.
_SORT_KEYS = {
    "name": "name",
    "tz": "timezone",
    "next": "nextRunTime",
    "last": "lastRunTime",
    "state": "status",
}
SORTS = {sign + key: sign + column for key, column in _SORT_KEYS.items() for sign in ("", "-")}
STATES = tuple(status.value for status in JobStatus)
OUTCOMES = (
    ExecutionStatus.SUCCESS.value,
    ExecutionStatus.FAILED.value,
    ExecutionStatus.TIMEOUT.value,
)


@dataclass(frozen=True)
class TableState(UrlState):
    """Everything the URL says about the table: search, filters, sort, page."""

    q: str = ""
    state: str = ""
    task: str = ""
    owner: str = ""
    outcome: str = ""
    sort: str = "name"
    page: int = 1

    @property
    def filtered(self) -> bool:
        """True when any search or filter narrows the table."""
        return bool(self.q or self.state or self.task or self.owner or self.outcome)

    def filters(self, page: int | None = None, per_page: int = PER_PAGE) -> JobFilters:
        """The service's filters for this state."""
        return JobFilters(
            page=page or self.page,
            per_page=per_page,
            q=self.q or None,
            status=self.state or None,
            task_function=self.task or None,
            owner_id=uuid.UUID(self.owner) if self.owner else None,
            last_status=self.outcome or None,
            sort=SORTS[self.sort],
        )


def _choice(value: str | None, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else ""


def _uuid_text(value: str | None) -> str:
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        return ""


def parse_state(args: MultiDict[str, str], user: User | None = None) -> TableState:
    """Read the state from the query string; a bad value falls back to the default."""
    page = args.get("page", "1")
    sort = args.get("sort", "name")
    sees_all = user is not None and access.sees_all(user)
    return TableState(
        q=args.get("q", "").strip()[:MAX_QUERY],
        state=_choice(args.get("state"), STATES),
        task=args.get("task", "").strip()[:100],
        owner=_uuid_text(args.get("owner")) if sees_all else "",
        outcome=_choice(args.get("outcome"), OUTCOMES),
        sort=sort if sort in SORTS else "name",
        page=int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1,
    )


@dataclass(frozen=True)
class Row:
    """One row of the table: the job, its run summary, its owner's e-mail, may-change."""

    job: ScheduledJob
    summary: JobSummary
    owner_email: str | None
    can_change: bool

    @property
    def schedule(self) -> Any:
        """The schedule in words with its raw form."""
        return schedule_words(self.job)


def build_rows(user: User, jobs: list[ScheduledJob], now: datetime) -> list[Row]:
    """Rows for these jobs in a fixed number of queries (summaries, owners)."""
    summaries = job_summaries(db.session, [job.id for job in jobs], now)
    emails: dict[uuid.UUID, str] = {}
    if access.sees_all(user):
        owner_ids = {job.owner_id for job in jobs if job.owner_id}
        query = select(User.id, User.email).where(User.id.in_(owner_ids))
        emails = {user_id: email for user_id, email in db.session.execute(query)}
    return [
        Row(
            job,
            summaries.get(job.id, JobSummary()),
            emails.get(job.owner_id) if job.owner_id else None,
            access.can_change_job(user, job),
        )
        for job in jobs
    ]


def filter_choices(user: User) -> dict[str, Any]:
    """Tasks for the task filter; owners only for users who see every job."""
    tasks = list(db.session.scalars(select(TaskFunction.name).order_by(TaskFunction.name)))
    owners: list[tuple[uuid.UUID, str]] = []
    if access.sees_all(user):
        query = select(User.id, User.email).order_by(User.email)
        owners = [(user_id, email) for user_id, email in db.session.execute(query)]
    return {"tasks": tasks, "owners": owners, "states": STATES, "outcomes": OUTCOMES}


@bp.route("/jobs")
@bp.route("/")  # added first, so url_for gives "/"
@login_required  # type: ignore[untyped-decorator]
def index() -> Response:
    """The jobs this user may see, searched, filtered, sorted and paged by the URL."""
    given = request.args.to_dict()
    clean: dict[str, Any] = {key: value for key, value in given.items() if value}
    # A GET form sends its empty fields ("?q=x&state=&task="): show the URL without them.
    if clean != given and not htmx.is_partial_request():
        return redirect(url_for("jobs.index", **clean))
    state = parse_state(request.args, current_user)
    now = utcnow()
    result = list_jobs(db.session, current_user, state.filters())
    pages = max(1, -(-result.total // PER_PAGE))
    response = htmx.render(
        "jobs/index.html",
        "jobs/_table.html",
        state=state,
        result=result,
        pages=pages,
        rows=build_rows(current_user, result.jobs, now),
        since=now.isoformat(),
        choices=filter_choices(current_user),
    )
    if clean != given:
        response.headers["HX-Push-Url"] = url_for("jobs.index", **clean)
    return response


@bp.route("/jobs/changes")
@login_required  # type: ignore[untyped-decorator]
def changes() -> Response:
    """Rows of the listed jobs that changed since ``since``, swapped out of band by id."""
    now = utcnow()
    ids = htmx.polled_ids(request.args.get("ids", ""))
    try:
        since = datetime.fromisoformat(request.args.get("since", ""))
    except ValueError:
        since = now
    if since.tzinfo is None:  # only the server's own aware timestamps are meaningful
        since = now
    visible = db.session.scalars(
        access.visible_jobs(current_user).where(
            ScheduledJob.id.in_(changed_since(db.session, ids, since))
        )
    ).all()
    return htmx.render(
        "jobs/_changes.html",
        "jobs/_changes.html",
        live=True,
        rows=build_rows(current_user, list(visible), now),
        ids=ids,
        since=now.isoformat(),
    )
