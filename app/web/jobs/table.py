"""The jobs table (read-only for now): ``/`` and ``/jobs``, full page or htmx partial."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.models import ScheduledJob
from app.services.jobs import JobFilters, list_jobs
from app.web.jobs import bp

PER_PAGE = 20
MAX_QUERY = 200
# URL value → service sort key; the table sorts by these columns only.
SORTS = {
    "name": "name",
    "-name": "-name",
    "next": "nextRunTime",
    "-next": "-nextRunTime",
}


@dataclass(frozen=True)
class TableState:
    """Everything the URL says about the table: search, sort, page."""

    q: str = ""
    sort: str = "name"
    page: int = 1

    def url_args(self, **changes: Any) -> dict[str, Any]:
        """Query arguments for a link to this state with ``changes``, defaults left out."""
        merged = {"q": self.q, "sort": self.sort, "page": self.page} | changes
        defaults = TableState()
        return {k: v for k, v in merged.items() if v != getattr(defaults, k)}


def parse_state(args: MultiDict[str, str]) -> TableState:
    """Read the state from the query string; a bad value falls back to the default."""
    q = args.get("q", "").strip()[:MAX_QUERY]
    sort = args.get("sort", "name")
    page = args.get("page", "1")
    return TableState(
        q=q,
        sort=sort if sort in SORTS else "name",
        page=int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1,
    )


@bp.route("/jobs")
@bp.route("/")  # added first, so url_for gives "/"
@login_required  # type: ignore[untyped-decorator]
def index() -> Response:
    """The jobs this user may see, searched, sorted and paged by the URL."""
    state = parse_state(request.args)
    filters = JobFilters(
        page=state.page, per_page=PER_PAGE, q=state.q or None, sort=SORTS[state.sort]
    )
    result = list_jobs(db.session, current_user, filters)
    pages = max(1, -(-result.total // PER_PAGE))
    return htmx.render(
        "jobs/index.html", "jobs/_table.html", state=state, result=result, pages=pages
    )


_KIND_LABELS = {"cron": _l("Cron"), "interval": _l("Every"), "date": _l("Once")}


@bp.app_template_global()
def schedule_kind(job: ScheduledJob) -> str:
    """The schedule's kind in words (cron, every, once)."""
    name = job.job_type.name
    return str(_KIND_LABELS.get(name, name))


@bp.app_template_global()
def schedule_text(job: ScheduledJob) -> str:
    """The raw schedule: a cron expression, interval units or the one-off wall time."""
    config = job.schedule_config or {}
    if "expression" in config:
        return str(config["expression"])
    if "runAt" in config:
        return str(config["runAt"])
    return " ".join(f"{key}={value}" for key, value in config.items())
