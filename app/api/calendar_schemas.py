"""The calendar feed's shapes: FullCalendar's event object, and the query it sends."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import ConfigDict, Field, RootModel
from pydantic.alias_generators import to_camel

from app.api.schemas import ApiModel, Id, QueueName, TaskName, Text, TimezoneName, WallTime
from app.services.calendar.entries import OUTCOMES

Outcome = Literal[OUTCOMES]  # type: ignore[valid-type]


class CalendarQuery(ApiModel):
    """FullCalendar's ``start``/``end``/``timeZone`` (extra parameters it adds are ignored).

    A ``start``/``end`` without offset is wall time in ``timeZone``, as FullCalendar
    sends it for a named zone; with ``Z`` or an offset it is that instant.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    start: WallTime
    end: WallTime
    time_zone: TimezoneName = "UTC"
    q: Text | None = Field(default=None, max_length=200)
    task: TaskName | None = None
    outcome: Outcome | None = None
    owner: Id | None = None
    queue: QueueName | None = None


class EventProps(ApiModel):
    """What Almanac adds to an event: what it stands for and how it went."""

    kind: Literal["run", "occurrence", "skipped", "missed", "summary"]
    status: str
    # Absent only on an aggregated answer's day totals (every matching job together).
    job_id: uuid.UUID | None = None
    execution_id: uuid.UUID | None = None
    reason: str | None = None
    manual: bool = False
    attempts: int = 1
    shifted: bool = False
    repeated: bool = False
    # Summaries only: how many entries the day holds, by status.
    count: int | None = None
    outcomes: dict[str, int] | None = None
    # True on an aggregated answer's day totals (too many jobs matched to list each).
    aggregated: bool = False


class CalendarEvent(ApiModel):
    """A FullCalendar event object."""

    id: str
    title: str
    start: str
    end: str | None = None
    all_day: bool = False
    url: str
    class_names: list[str]
    extended_props: EventProps


class CalendarEvents(RootModel[list[CalendarEvent]]):
    """The events in the window, oldest first (FullCalendar's JSON feed is a bare array)."""
