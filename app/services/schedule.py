"""A job's schedule: its trigger, zone and upcoming fire times."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app import timemath
from app.models import ScheduledJob


def trigger_of(job: ScheduledJob) -> timemath.Trigger:
    """The parsed trigger of a stored job (stored configs were validated on save)."""
    return timemath.parse_trigger(job.job_type.name, job.schedule_config)


def zone_of(job: ScheduledJob) -> ZoneInfo:
    """The job's time zone."""
    return timemath.parse_timezone(job.timezone)


def anchor_of(job: ScheduledJob) -> datetime:
    """Where interval counting starts: the start date, else creation time.

    Whole seconds: rq-scheduler scores entries in whole seconds, so a slot
    with a fraction could be moved to its queue up to a second early.
    """
    return (job.start_date or job.created_at).replace(microsecond=0)


def upcoming(job: ScheduledJob, after: datetime, count: int) -> list[datetime]:
    """The job's next ``count`` fire times strictly after ``after`` (UTC)."""
    return timemath.fire_times(
        trigger_of(job),
        zone_of(job),
        after,
        count,
        anchor=anchor_of(job),
        start=job.start_date,
        end=job.end_date,
    )


def next_run(job: ScheduledJob, after: datetime) -> datetime | None:
    """The next fire time of a schedulable job, else None."""
    if not job.is_schedulable:
        return None
    times = upcoming(job, after, 1)
    return times[0] if times else None
