"""``flask`` commands for operators and scripts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

import click
from flask import Flask
from flask.cli import with_appcontext

from app import timemath
from app.extensions import db
from app.models import User, utcnow
from app.services.errors import ServiceError
from app.services.ledger import retention
from app.services.scheduling import catalog, demo
from app.services.users import accounts

# Times near datetime's limits overflow once shifted by a UTC offset.
_MIN_YEAR, _MAX_YEAR = 1970, 9998


def _fail(message: str) -> NoReturn:
    """Exit non-zero with a one-line message."""
    raise click.ClickException(message)


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]), required=True)
@click.option("--password", default=None, help="Prompted for (hidden) when omitted.")
@click.option("--name", "display_name", default=None)
@with_appcontext
def create_user(email: str, role: str, password: str | None, display_name: str | None) -> None:
    """Create a user."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_user(db.session, email, password, role, display_name)
    except ServiceError as error:
        _fail(error.message)
    click.echo(f"created {user.role} {user.email}")


@click.command("create-token")
@click.option("--email", required=True)
@click.option("--name", required=True, help="What the token is for.")
@with_appcontext
def create_token(email: str, name: str) -> None:
    """Create an API token and print it once."""
    user = _user(email)
    try:
        _, token = accounts.create_token(db.session, user, name)
    except ServiceError as error:
        _fail(error.message)
    click.echo(token)


def _user(email: str) -> User:
    """The user with this e-mail, else exit with a one-line message."""
    user = accounts.find_user(db.session, email)
    if user is None:
        _fail(f"no user with e-mail {email}")
    return user


def _account_change(change: Callable[[], User], done: str) -> None:
    """Run one account service as the operator (``by=None``); one line either way."""
    try:
        user = change()
    except ServiceError as error:
        _fail(error.message)
    click.echo(f"{done} {user.email}")


@click.command("set-role")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]), required=True)
@with_appcontext
def set_role(email: str, role: str) -> None:
    """Give a user another role (the last active admin stays one)."""
    user = _user(email)
    _account_change(lambda: accounts.change_role(db.session, None, user.id, role), f"{role}:")


@click.command("disable-user")
@click.option("--email", required=True)
@with_appcontext
def disable_user(email: str) -> None:
    """Refuse a user's sign-in and tokens from now on."""
    user = _user(email)
    _account_change(lambda: accounts.set_active(db.session, None, user.id, False), "disabled")


@click.command("enable-user")
@click.option("--email", required=True)
@with_appcontext
def enable_user(email: str) -> None:
    """Let a disabled user sign in again."""
    user = _user(email)
    _account_change(lambda: accounts.set_active(db.session, None, user.id, True), "enabled")


@click.command("reset-password")
@click.option("--email", required=True)
@click.option("--password", default=None, help="Prompted for (hidden) when omitted.")
@with_appcontext
def reset_password(email: str, password: str | None) -> None:
    """Set a new password for a user."""
    user = _user(email)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    new = password
    _account_change(
        lambda: accounts.reset_password(db.session, None, user.id, new), "password reset for"
    )


@click.command("list-tokens")
@click.option("--email", required=True)
@with_appcontext
def list_tokens(email: str) -> None:
    """A user's API tokens: id, prefix, name, and whether revoked."""
    for row in accounts.list_tokens(db.session, None, _user(email).id):
        state = "revoked" if row.is_revoked else "active"
        click.echo(f"{row.id} {row.prefix}… {state} {row.name}")


@click.command("revoke-token")
@click.argument("token_id", type=click.UUID)
@with_appcontext
def revoke_token(token_id: uuid.UUID) -> None:
    """Revoke an API token by its id (see list-tokens)."""
    if not accounts.revoke_token(db.session, token_id):
        _fail(f"no token with id {token_id}")
    click.echo(f"revoked {token_id}")


def _schedule_config(kind: str, expr: str | None, every: int | None, at: str | None) -> object:
    """The schedule config the CLI options describe."""
    options = {"cron": ("--expr", expr), "interval": ("--every", every), "date": ("--at", at)}
    flag, value = options[kind]
    if value is None:
        _fail(f"--type {kind} needs {flag}")
    return {"cron": {"expression": expr}, "interval": {"seconds": every}, "date": {"runAt": at}}[
        kind
    ]


@click.command("schedule-preview")
@click.option("--type", "kind", type=click.Choice(timemath.JOB_TYPES), required=True)
@click.option("--expr", help="Cron expression (5 fields, or 6 with seconds first).")
@click.option("--every", type=int, help="Interval in seconds.")
@click.option("--at", help="One-off wall-clock time in --tz, e.g. 2026-12-01T09:00:00.")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--start", help="Wall-clock time in --tz to start from (default: now).")
@click.option("--end", help="Wall-clock time in --tz after which nothing fires.")
@click.option("--count", type=click.IntRange(1, 1000), default=5, show_default=True)
def schedule_preview(
    kind: str,
    expr: str | None,
    every: int | None,
    at: str | None,
    tz: str,
    start: str | None,
    end: str | None,
    count: int,
) -> None:
    """Print the next fire times, one per line, in UTC (ISO-8601, ending in Z)."""
    try:
        zone = timemath.parse_timezone(tz)
        trigger = timemath.parse_trigger(kind, _schedule_config(kind, expr, every, at))
        after = _wall_time("--start", start, zone) if start else utcnow()
        until = _wall_time("--end", end, zone) if end else None
    except timemath.ScheduleError as error:
        _fail(f"{error.field}: {error.message}")
    try:
        moments = timemath.fire_times(trigger, zone, after, count, anchor=after, end=until)
    except OverflowError:
        _fail("the fire times run past the year 9999")
    for moment in moments:
        click.echo(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if isinstance(trigger, timemath.CronTrigger):
        days = timemath.describe_days(trigger.expression)
        # On stderr, so stdout stays one time per line for scripts.
        if days:
            click.echo(f"Runs {days}.", err=True)


def _wall_time(flag: str, text: str, zone: ZoneInfo) -> datetime:
    """Parse a wall-clock time given on the command line."""
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"{flag}: not an ISO-8601 date-time: {text!r}")
    if naive.tzinfo is not None:
        _fail(f"{flag}: give wall-clock time in --tz, without an offset")
    if not _MIN_YEAR <= naive.year <= _MAX_YEAR:
        _fail(f"{flag}: the year must be between {_MIN_YEAR} and {_MAX_YEAR}: {text!r}")
    return timemath.resolve_wall_time(naive, zone)


@click.command("sync-tasks")
@with_appcontext
def sync_tasks() -> None:
    """Mirror the registered tasks and job types into the database."""
    catalog.ensure_job_types(db.session)
    counts = catalog.sync_task_functions(db.session)
    db.session.commit()
    click.echo(", ".join(f"{count} {what}" for what, count in counts.items()))


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create a demo admin and a few demo jobs (idempotent); print the login."""
    from flask import current_app

    email, password = demo.seed(db.session, utcnow(), Path(current_app.instance_path))
    db.session.commit()
    click.echo(f"demo admin: {email} / {password}")


@click.command("cleanup")
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Default: retention.")
@with_appcontext
def cleanup(days: int | None) -> None:
    """Delete finished executions older than the retention period."""
    from flask import current_app

    keep = days or current_app.config["HISTORY_RETENTION_DAYS"]
    try:
        deleted = retention.cleanup_history(db.session, None, keep, utcnow())
    except ServiceError as error:
        _fail(error.message)
    click.echo(f"deleted {deleted} executions older than {keep} days")


@click.command("reconcile")
@with_appcontext
def reconcile_command() -> None:
    """Run one reconcile pass (as the leader would) and print what it changed."""
    from flask import current_app

    from app.engine.scheduler import carry_out
    from app.queues import recurrence
    from app.services.ledger import reconcile, reconcile_log

    rec = recurrence()
    config = current_app.config
    now = utcnow()
    plan, report = reconcile.reconcile(
        db.session,
        rec,
        now,
        None,
        timedelta(seconds=float(config["WORKER_LOST_SECONDS"])),
        max_abandoned=int(config["RETRY_MAX_ABANDONED"]),
        run_all_cap=int(config["MISFIRE_RUN_ALL_CAP"]),
        retry_wait_limit=timedelta(seconds=float(config["RETRY_WAIT_LIMIT_SECONDS"])),
    )
    db.session.commit()
    carry_out(rec, plan, None)
    reconcile_log.record_reconcile(rec.connection, now, dict(report.counts))
    click.echo(report.summary())


def register(app: Flask) -> None:
    """Attach the commands to the app's CLI."""
    accounts_commands = (create_user, create_token, set_role, disable_user, enable_user)
    tokens = (reset_password, list_tokens, revoke_token)
    commands = (schedule_preview, sync_tasks, seed_demo, cleanup, reconcile_command)
    for command in (*accounts_commands, *tokens, *commands):
        app.cli.add_command(command)
