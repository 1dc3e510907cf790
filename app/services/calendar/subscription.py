"""ICS subscriptions: a per-user feed token, and the next 30 days of occurrences as iCalendar.

The token is the only secret in the URL a calendar app polls, so it is random,
stored hashed (like API tokens), read-only (it opens nothing but this file) and
revocable; creating a new one revokes the old.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import select

from app.extensions import DbSession
from app.models import CalendarFeedToken, ScheduledJob, User
from app.services.calendar.entries import Filters, calendar_window
from app.services.calendar.window import Window
from app.services.scheduling import schedule
from app.services.users.accounts import token_digest

FEED_PREFIX = "cal_"
FEED_DAYS = 30
# Occurrences are listed one by one in a file, never collapsed into a day bar.
_NEVER_DENSE = 10**9
_LAST_USED_RESOLUTION = timedelta(minutes=5)
_UTC = ZoneInfo("UTC")


def active_feed(session: DbSession, user: User) -> CalendarFeedToken | None:
    """The user's unrevoked feed token, if any."""
    query = select(CalendarFeedToken).where(
        CalendarFeedToken.user_id == user.id, CalendarFeedToken.revoked_at.is_(None)
    )
    return session.scalar(query.order_by(CalendarFeedToken.created_at.desc()))


def create_feed(session: DbSession, user: User, now: datetime) -> str:
    """A new feed token (returned once, never stored); the previous one stops working."""
    _revoke(session, user, now)
    token = FEED_PREFIX + secrets.token_urlsafe(32)
    digest = token_digest(token)
    session.add(CalendarFeedToken(user_id=user.id, token_hash=digest, prefix=token[:10]))
    session.commit()
    return token


def revoke_feed(session: DbSession, user: User, now: datetime) -> bool:
    """Revoke the user's feed token; False when there was none."""
    revoked = _revoke(session, user, now)
    session.commit()
    return revoked


def _revoke(session: DbSession, user: User, now: datetime) -> bool:
    rows = session.scalars(
        select(CalendarFeedToken).where(
            CalendarFeedToken.user_id == user.id, CalendarFeedToken.revoked_at.is_(None)
        )
    ).all()
    for row in rows:
        row.revoked_at = now
    return bool(rows)


def feed_user(session: DbSession, token: str, now: datetime) -> User | None:
    """The active user whose unrevoked feed token this is (use recorded), else None."""
    row = session.scalar(
        select(CalendarFeedToken).where(CalendarFeedToken.token_hash == token_digest(token))
    )
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.commit()
    user: User = row.user
    return user


def ics_for_token(
    session: DbSession, token: str, now: datetime, job_url: Callable[[ScheduledJob], str]
) -> bytes | None:
    """The ICS file for a feed token, or None when the token is unknown or revoked."""
    user = feed_user(session, token, now)
    if user is None:
        return None
    return ics_calendar(session, user, now, job_url)


def ics_calendar(
    session: DbSession, user: User, now: datetime, job_url: Callable[[ScheduledJob], str]
) -> bytes:
    """The next 30 days of the user's occurrences (capped), each in its job's own zone."""
    # The window is whole UTC days; each event then carries its own job's zone (TZID).
    first = now.date()
    window = Window("range", first, first, first + timedelta(days=FEED_DAYS + 1), _UTC)
    data = calendar_window(session, user, window, Filters(), now, _NEVER_DENSE)
    until = now + timedelta(days=FEED_DAYS)
    calendar = Calendar()
    calendar.add("prodid", "-//Almanac//Job schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Almanac")
    if data.occurrences_capped:
        calendar.add("x-almanac-capped", "true")
    for entry in data.entries:
        if entry.kind != "occurrence" or entry.start > until:
            continue
        event = Event()
        event.add("uid", f"{entry.job.id}-{entry.start:%Y%m%dT%H%M%SZ}@almanac")
        event.add("dtstamp", now)
        event.add("dtstart", entry.start.astimezone(schedule.zone_of(entry.job)))
        event.add("summary", entry.job.name)
        event.add("url", job_url(entry.job))
        event.add("status", "TENTATIVE" if entry.status == "paused" else "CONFIRMED")
        if entry.status == "paused":
            event.add("description", "Paused: this run happens only if the job is resumed.")
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
