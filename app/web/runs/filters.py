"""What the URL says about the runs and failed-tasks lists: one parser for both pages.

Both pages filter runs alike (outcome or status, job, task, trigger, queue, a
time window by slot or by start, text in the error); each bad value falls back
to "no filter" rather than an error page. Times in the window are wall times
in the display zone, as the page shows them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from app.models import FAILURE_STATUSES, ExecutionStatus, RetryStatus, TriggeredBy
from app.services.failures.filters import RetryFilters
from app.services.ledger.executions import HistoryFilters
from app.web.i18n import select_timezone
from app.web.urlstate import UrlState

MAX_TEXT = 200
OUTCOMES = tuple(status.value for status in ExecutionStatus)
TRIGGERS = tuple(trigger.value for trigger in TriggeredBy)
RETRY_STATUSES = (RetryStatus.PENDING.value, RetryStatus.CLAIMED.value, RetryStatus.DEAD.value)
WINDOWS = ("scheduled", "started")
VIEWS = ("", "groups")
TRIGGER_LABELS = {
    "scheduler": _l("Schedule"),
    "manual": _l("Manual"),
    "api": _l("API"),
    "retry": _l("Retry"),
}
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class RunFilterState(UrlState):
    """The filters both pages share, as the URL carries them (text, defaults left out)."""

    outcome: str = ""
    job: str = ""
    task: str = ""
    trigger: str = ""
    queue: str = ""
    window: str = "scheduled"
    since: str = ""
    until: str = ""
    q: str = ""

    @property
    def filtered(self) -> bool:
        """True when anything narrows the list."""
        keep = {"window", "cursor", "page", "view"}
        return any(v for k, v in self.url_args().items() if k not in keep)

    def _job(self) -> dict[str, Any]:
        try:
            return {"job_id": uuid.UUID(self.job)}
        except ValueError:
            return {"job_name": self.job or None}

    def _window(self) -> dict[str, datetime | None]:
        start, end = _instant(self.since), _instant(self.until)
        return {f"{self.window}_since": start, f"{self.window}_until": end}

    def common(self) -> dict[str, Any]:
        """Service filter arguments shared by HistoryFilters and RetryFilters."""
        return {
            "task": self.task or None,
            "queue": self.queue or None,
            "q": self.q or None,
            **self._job(),
            **self._window(),
        }


@dataclass(frozen=True)
class RunsState(RunFilterState):
    """The runs list: filters plus the keyset cursor."""

    cursor: str = ""

    def history_filters(self) -> HistoryFilters:
        """The service's filters (scheduled or started window)."""
        return HistoryFilters(
            status=self.outcome or None, triggered_by=self.trigger or None, **self.common()
        )


@dataclass(frozen=True)
class FailedState(RunFilterState):
    """The failed-tasks list: filters, the retry status, the view, a group, the page."""

    status: str = ""
    view: str = ""
    group: str = ""
    page: int = 1

    def retry_filters(self, page: int | None = None, per_page: int = 20) -> RetryFilters:
        """The service's filters: the item's status, the failed run's outcome and the rest."""
        return RetryFilters(
            page=page or self.page,
            per_page=per_page,
            status=self.status or None,
            run_status=self.outcome or None,
            triggered_by=self.trigger or None,
            group=self.group or None,
            newest_first=True,
            **self.common(),
        )


def _instant(text: str) -> datetime | None:
    """A wall time in the display zone (datetime-local text) as a UTC instant."""
    for pattern in _LOCAL_FORMATS:
        try:
            local = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return local.replace(tzinfo=ZoneInfo(select_timezone())).astimezone(UTC)
    return None


def _choice(value: str | None, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else ""


def _text(args: MultiDict[str, str], name: str, limit: int = MAX_TEXT) -> str:
    """A text field, trimmed; NUL removed (PostgreSQL refuses it in a string)."""
    return args.get(name, "").replace("\x00", "").strip()[:limit]


def _local(args: MultiDict[str, str], name: str) -> str:
    text = _text(args, name)
    return text if _instant(text) is not None else ""


def _common(args: MultiDict[str, str]) -> dict[str, Any]:
    window = args.get("window", "scheduled")
    return {
        "job": _text(args, "job"),
        "task": _text(args, "task")[:100],
        "trigger": _choice(args.get("trigger"), TRIGGERS),
        "queue": _text(args, "queue")[:50],
        "window": window if window in WINDOWS else "scheduled",
        "since": _local(args, "since"),
        "until": _local(args, "until"),
        "q": _text(args, "q"),
    }


def parse_runs(args: MultiDict[str, str]) -> RunsState:
    """The runs list's state from a query string."""
    cursor = args.get("cursor", "").strip()
    return RunsState(
        outcome=_choice(args.get("outcome"), OUTCOMES),
        cursor=cursor if len(cursor) <= 400 else "",
        **_common(args),
    )


def parse_failed(args: MultiDict[str, str]) -> FailedState:
    """The failed-tasks list's state from a query string (or a bulk form's fields)."""
    page = args.get("page", "1")
    return FailedState(
        outcome=_choice(args.get("outcome"), FAILURE_STATUSES),
        status=_choice(args.get("status"), RETRY_STATUSES),
        view=_choice(args.get("view"), VIEWS),
        group=_text(args, "group", 255),
        page=int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1,
        **_common(args),
    )
