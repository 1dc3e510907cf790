"""A job's schedule: its trigger, zone and upcoming fire times; the live preview."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app import timemath
from app.i18n import _
from app.models import ScheduledJob
from app.services.errors import Invalid
from app.services.scheduling.job_fields import localize, parse_trigger, schedule_path


def trigger_of(job: ScheduledJob) -> timemath.Trigger:
    """The parsed trigger of a stored job (stored configs were validated on save)."""
    return _parsed(job.job_type.name, json.dumps(job.schedule_config, sort_keys=True))


@functools.lru_cache(maxsize=4096)
def _parsed(job_type: str, config: str) -> timemath.Trigger:
    """Parsing validates (a cron rule is probed for a real date): do it once per rule.

    Triggers are frozen, so jobs with the same rule can share one; the calendar
    asks for thousands of jobs' triggers in one request.
    """
    return timemath.parse_trigger(job_type, json.loads(config))


def zone_of(job: ScheduledJob) -> ZoneInfo:
    """The job's time zone."""
    return timemath.parse_timezone(job.timezone)


def anchor_of(job: ScheduledJob) -> datetime:
    """Where interval counting starts: the start date, else creation time.

    Whole seconds: rq-scheduler scores entries in whole seconds, so a slot
    with a fraction could be moved to its queue up to a second early.
    """
    return (job.start_date or job.created_at).replace(microsecond=0)


def upcoming(
    job: ScheduledJob, after: datetime, count: int, until: datetime | None = None
) -> list[datetime]:
    """The job's next ``count`` fire times strictly after ``after`` (UTC), none past ``until``.

    ``until`` (inclusive) lets the calendar ask for one window without computing
    past its end; firing and the preview leave it out and get the same times.
    """
    ends = [moment for moment in (job.end_date, until) if moment is not None]
    return timemath.fire_times(
        trigger_of(job),
        zone_of(job),
        after,
        count,
        anchor=anchor_of(job),
        start=job.start_date,
        end=min(ends) if ends else None,
    )


def next_run(job: ScheduledJob, after: datetime) -> datetime | None:
    """The next fire time of a schedulable job, else None."""
    if not job.is_schedulable:
        return None
    times = upcoming(job, after, 1)
    return times[0] if times else None


# ---- the live preview: what a schedule being edited would do -----------------------------


@dataclass(frozen=True)
class PreviewTime:
    """One fire time, with how DST touched it (``timemath.FireFlags``)."""

    utc: datetime
    local: datetime
    shifted: bool
    repeated: bool


@dataclass(frozen=True)
class Preview:
    """The next fire times of a schedule, or why it never fires."""

    timezone: str
    fire_times: list[PreviewTime]
    never_fires: bool = False
    reason: str | None = None
    # Cron only: the days it runs on in words ("on days 1 and 15, or on Mondays").
    description: str | None = None


def preview(
    job_type: str,
    schedule_config: Any,
    timezone: str,
    start: datetime | None,
    end: datetime | None,
    count: int,
    now: datetime,
) -> Preview:
    """Up to ``count`` fire times after ``now`` with DST flags; ``never_fires`` if none ever.

    Naive ``start``/``end`` are wall-clock times in ``timezone``. A config that is
    not valid raises ``Invalid``; one that is valid but can never fire (``0 0 30 2
    *``, a one-off in the past, an end before the first fire) is a result.
    """
    zone = _preview_zone(timezone)
    try:
        trigger = parse_trigger(job_type, schedule_config, zone)
    except timemath.ScheduleError as error:
        if error.field == "expression" and timemath.cron_never_matches(
            dict(schedule_config).get("expression")
        ):
            return Preview(zone.key, [], never_fires=True, reason=error.message)
        raise Invalid(error.message, {schedule_path(error): error.message}) from None
    start, end = localize(start, zone), localize(end, zone)
    after = max(now, start - timedelta(microseconds=1)) if start else now
    times = timemath.fire_times(
        trigger, zone, after, count, anchor=start or now, start=start, end=end
    )
    days = (
        timemath.describe_days(trigger.expression)
        if isinstance(trigger, timemath.CronTrigger)
        else None
    )
    if not times:
        reason = _never_reason(trigger, end)
        return Preview(zone.key, [], never_fires=True, reason=reason, description=days)
    fires = [_preview_time(trigger, zone, moment) for moment in times]
    return Preview(zone.key, fires, description=days)


def _preview_zone(name: str) -> ZoneInfo:
    try:
        return timemath.parse_timezone(name)
    except timemath.ScheduleError as error:
        raise Invalid(error.message, {"timezone": error.message}) from None


def _preview_time(trigger: timemath.Trigger, zone: ZoneInfo, moment: datetime) -> PreviewTime:
    flags = timemath.classify_fire(trigger, moment, zone)
    return PreviewTime(moment, moment.astimezone(zone), flags.shifted, flags.repeated)


def _never_reason(trigger: timemath.Trigger, end: datetime | None) -> str:
    """Why a valid schedule yields no fire time from now on."""
    if isinstance(trigger, timemath.DateTrigger):
        return _("The run time is in the past (or outside the start and end dates).")
    if end is not None:
        return _("Nothing fires between now (or the start date) and the end date.")
    return _("This schedule never fires.")
