"""``GET /calendar``: runs, occurrences and gaps as FullCalendar event objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, url_for

from app.api import spec
from app.api.calendar_schemas import CalendarEvent, CalendarEvents, CalendarQuery, EventProps
from app.api.common import api_user, parse_query, respond
from app.extensions import db
from app.models import utcnow
from app.services.calendar.aggregate import Summary
from app.services.calendar.entries import Aggregation, Bar, Entry, Filters
from app.services.calendar.feed import calendar_span

CAPPED_HEADER = "X-Almanac-Capped"
AGGREGATED_HEADER = "X-Almanac-Aggregated"
# Events in one answer: enough for any screen, small enough to serialise quickly.
MAX_EVENTS = 10_000


@spec.route(
    "/calendar",
    "GET",
    summary="Calendar feed (FullCalendar events)",
    tag="history",
    query=CalendarQuery,
    response=CalendarEvents,
    errors=(400, 401, 422),
    description=(
        "Past runs (by the slot they stand for), future occurrences (from the scheduler's "
        "own time math), and skipped or missed slots in [start, end), at most 93 days. "
        "A job with more than 96 entries on a day becomes one all-day `summary` event. "
        "At most 10,000 occurrences and 10,000 runs are read and 10,000 events answered; "
        "when a cap cut the answer "
        f"short the response carries `{CAPPED_HEADER}: true`. "
        "When more jobs match than the server lists one by one (`CALENDAR_AGGREGATE_AFTER`, "
        "200 by default) the answer is aggregated: for each local day of the span one all-day "
        "`summary` event with `aggregated: true`, no `jobId`, "
        "and every matching job's `count` and `outcomes` (future slots as `scheduled` or "
        f"`paused`); the response then carries `{AGGREGATED_HEADER}: true`. Narrow it with "
        "`q`, `task`, `owner` or `queue` to get every job's events."
    ),
)
def calendar_feed() -> Any:
    """The caller's calendar between ``start`` and ``end``, as FullCalendar reads it."""
    query = parse_query(CalendarQuery)
    filters = Filters(query.q, query.task, query.outcome, query.owner, query.queue)
    bounds = (query.start, query.end)
    # Aggregated, the feed answers day totals only (a client draws its own few jobs by
    # filtering): drawing the first jobs too cost a listed hot job's thousands of runs.
    aggregation = Aggregation(int(current_app.config["CALENDAR_AGGREGATE_AFTER"]), sample=0)
    data = calendar_span(
        db.session, api_user(), bounds, query.time_zone, filters, utcnow(), aggregation=aggregation
    )
    items = _first_items(data.entries, data.bars)
    events = [_event(item) if isinstance(item, Entry) else _summary(item) for item in items]
    events += [_day_total(summary) for summary in data.summaries]
    response = respond(CalendarEvents(events))
    if data.capped or len(data.entries) + len(data.bars) > MAX_EVENTS:
        response.headers[CAPPED_HEADER] = "true"
    if data.aggregated:
        response.headers[AGGREGATED_HEADER] = "true"
    return response


def _first_items(entries: list[Entry], bars: list[Bar]) -> list[Entry | Bar]:
    """The first ``MAX_EVENTS`` by their event's start, without building the rest (a month of
    a big installation has tens of thousands; building each event is most of the cost)."""
    keyed: list[tuple[tuple[Any, ...], Entry | Bar]] = [(_start_key(e.start), e) for e in entries]
    keyed += [((bar.day, 0), bar) for bar in bars]
    keyed.sort(key=lambda pair: pair[0])
    return [item for _key, item in keyed[:MAX_EVENTS]]


def _start_key(moment: datetime) -> tuple[Any, ...]:
    """Sorts as the event's ``start`` text does (an all-day ``2027-01-05`` before the day's
    ``2027-01-05T…Z`` times; whole seconds), without formatting every one of them."""
    return (moment.date(), 1, moment.replace(microsecond=0))


def _iso(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _event(entry: Entry) -> CalendarEvent:
    if entry.execution_id is not None:
        url, event_id = url_for("runs.detail", run_id=entry.execution_id), str(entry.execution_id)
    else:
        url, event_id = (
            url_for("jobs.detail", job_id=entry.job.id),
            f"{entry.job.id}@{_iso(entry.start)}",
        )
    return CalendarEvent(
        id=event_id,
        title=entry.job.name,
        start=_iso(entry.start),
        end=_iso(entry.end) if entry.end and entry.end > entry.start else None,
        url=url,
        class_names=[f"almanac-{entry.kind}", f"almanac-status-{entry.status}"],
        extended_props=EventProps(
            kind=entry.kind,
            status=entry.status,
            job_id=entry.job.id,
            execution_id=entry.execution_id,
            reason=entry.reason,
            manual=entry.manual,
            attempts=entry.attempts,
            shifted=entry.shifted,
            repeated=entry.repeated,
        ),
    )


def _summary(bar: Bar) -> CalendarEvent:
    failed = bar.outcomes.get("failed", 0) + bar.outcomes.get("timeout", 0)
    title = f"{bar.job.name} · {bar.count:,}" + (f" · {failed} failed" if failed else "")
    return CalendarEvent(
        id=f"{bar.job.id}@{bar.day.isoformat()}",
        title=title,
        start=bar.day.isoformat(),
        all_day=True,
        url=url_for("jobs.detail", job_id=bar.job.id),
        class_names=["almanac-summary"] + (["almanac-status-failed"] if failed else []),
        extended_props=EventProps(
            kind="summary",
            status="failed" if failed else "mixed",
            job_id=bar.job.id,
            count=bar.count,
            outcomes=bar.outcomes,
        ),
    )


def _day_total(summary: Summary) -> CalendarEvent:
    """Every matching job's entries on one local day (an aggregated answer)."""
    day = summary.day.isoformat()
    title = (
        f"All jobs · runs {summary.runs:,} · failed {summary.failed:,}"
        f" · upcoming {summary.upcoming:,}"
    )
    return CalendarEvent(
        id=f"summary@{day}",
        title=title,
        start=day,
        all_day=True,
        url=url_for("calendar.index", view="day", date=day),
        class_names=["almanac-summary", "almanac-aggregated"]
        + (["almanac-status-failed"] if summary.failed else []),
        extended_props=EventProps(
            kind="summary",
            status="failed" if summary.failed else "mixed",
            count=summary.count,
            outcomes=summary.outcomes,
            aggregated=True,
        ),
    )
