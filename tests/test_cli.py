"""The ``flask`` commands: users, tokens, schedule preview, catalog, demo data, cleanup."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import Execution, ScheduledJob, TaskFunction, User, utcnow
from app.services.scheduling.demo import DEMO_EMAIL, DEMO_JOBS
from app.services.users import accounts
from app.tasks import registry
from tests.conftest import PASSWORD

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def flask(runner, command: str, **kwargs):
    """Run ``flask <command>`` (shell-style quoting) through the test runner."""
    return runner.invoke(args=shlex.split(command), **kwargs)


def error_lines(output: str) -> list[str]:
    """The lines of a command's output that report an error."""
    return [line for line in output.splitlines() if line.startswith("Error:")]


def assert_one_line_error(result, *words: str) -> None:
    """Non-zero exit, exactly one ``Error:`` line naming the problem, no traceback."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    lines = error_lines(result.output)
    assert len(lines) == 1, result.output
    for word in words:
        assert word in lines[0], lines[0]


# --- create-user ----------------------------------------------------------------------------


def test_create_user_with_password_option_creates_user_with_role(runner):
    result = flask(
        runner, f"create-user --email Ops@Example.com --role editor --password '{PASSWORD}'"
    )
    assert result.exit_code == 0, result.output
    assert result.output == "created editor ops@example.com\n"
    user = accounts.find_user(db.session, "ops@example.com")
    assert user is not None
    assert user.role == "editor"
    assert accounts.authenticate(db.session, "ops@example.com", PASSWORD) is user


def test_create_user_prompts_for_password_twice_when_omitted(runner):
    result = flask(
        runner,
        "create-user --email ops@example.com --role viewer",
        input="pw12345678\npw12345678\n",
    )
    assert result.exit_code == 0, result.output
    assert "pw12345678" not in result.output  # hidden input is not echoed
    assert accounts.authenticate(db.session, "ops@example.com", "pw12345678") is not None


def test_create_user_prompt_repeats_when_confirmation_differs(runner):
    result = flask(
        runner,
        "create-user --email ops@example.com --role viewer",
        input="pw12345678\nother-pass\npw87654321\npw87654321\n",
    )
    assert result.exit_code == 0, result.output
    assert accounts.authenticate(db.session, "ops@example.com", "pw87654321") is not None


def test_create_user_with_bad_role_fails(runner):
    result = flask(runner, "create-user --email ops@example.com --role root --password pw12345678")
    assert_one_line_error(result, "--role")
    assert accounts.find_user(db.session, "ops@example.com") is None


def test_create_user_with_duplicate_email_fails_with_one_line(runner, editor):
    result = flask(
        runner, "create-user --email EDITOR@example.com --role viewer --password pw12345678"
    )
    assert_one_line_error(result, "already exists", "editor@example.com")
    assert result.output.count("\n") == 1
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_create_user_with_short_password_fails(runner):
    result = flask(runner, "create-user --email ops@example.com --role viewer --password short")
    assert_one_line_error(result, "at least 8 characters")
    assert accounts.find_user(db.session, "ops@example.com") is None


def test_create_user_with_invalid_email_fails(runner):
    result = flask(runner, "create-user --email not-an-address --role viewer --password pw12345678")
    assert_one_line_error(result, "e-mail")


# --- create-token ---------------------------------------------------------------------------


def test_create_token_prints_a_token_that_authenticates(runner, client, editor):
    result = flask(runner, "create-token --email editor@example.com --name ci")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("alm_")
    assert result.output == token + "\n"  # only the token: easy to capture in scripts
    response = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_create_token_prints_a_new_token_each_time(runner, editor):
    first = flask(runner, "create-token --email editor@example.com --name ci")
    second = flask(runner, "create-token --email editor@example.com --name ci")
    assert first.exit_code == second.exit_code == 0
    assert first.output != second.output


def test_create_token_for_unknown_email_fails(runner):
    result = flask(runner, "create-token --email nobody@example.com --name ci")
    assert_one_line_error(result, "nobody@example.com")


def test_create_token_with_blank_name_fails(runner, editor):
    result = flask(runner, "create-token --email editor@example.com --name ' '")
    assert_one_line_error(result, "name")


# --- schedule-preview -----------------------------------------------------------------------

SPEC_CASE = (
    "schedule-preview --type cron --expr '30 2 * * *' --tz America/New_York"
    " --start 2026-03-07T12:00:00 --count 3"
)


def test_schedule_preview_cron_across_spring_forward(runner):
    result = flask(runner, SPEC_CASE)
    assert result.exit_code == 0, result.output
    assert result.output == "2026-03-08T07:00:00Z\n2026-03-09T06:30:00Z\n2026-03-10T06:30:00Z\n"


def test_schedule_preview_interval_in_seconds(runner):
    result = flask(
        runner, "schedule-preview --type interval --every 90 --start 2026-01-01T00:00:00 --count 2"
    )
    assert result.exit_code == 0, result.output
    assert result.output == "2026-01-01T00:01:30Z\n2026-01-01T00:03:00Z\n"


def test_schedule_preview_one_off_date_in_zone(runner):
    result = flask(
        runner,
        "schedule-preview --type date --at 2026-12-01T09:00:00 --tz Europe/Berlin"
        " --start 2026-11-01T00:00:00",
    )
    assert result.exit_code == 0, result.output
    assert result.output == "2026-12-01T08:00:00Z\n"


def test_schedule_preview_respects_end(runner):
    result = flask(
        runner,
        "schedule-preview --type interval --every 3600 --start 2026-01-01T00:00:00"
        " --end 2026-01-01T02:30:00 --count 10",
    )
    assert result.exit_code == 0, result.output
    assert result.output == "2026-01-01T01:00:00Z\n2026-01-01T02:00:00Z\n"


CRON = "schedule-preview --type cron --expr '0 * * * *'"


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("schedule-preview --type cron --expr '61 2 * * *'", ["expression"]),
        ("schedule-preview --type cron --expr '30 2 * *'", ["expression"]),
        ("schedule-preview --type cron --expr '0 0 31 2 *'", ["expression"]),
        (f"{CRON} --tz Mars/Olympus_Mons", ["timezone", "Mars/Olympus_Mons"]),
        ("schedule-preview --type cron", ["--expr"]),
        ("schedule-preview --type interval", ["--every"]),
        ("schedule-preview --type date", ["--at"]),
        ("schedule-preview --type date --at tomorrow", ["runAt"]),
        ("schedule-preview --type interval --every 0", ["interval"]),
        ("schedule-preview --type weekly", ["--type"]),
        (f"{CRON} --start garbage", ["--start", "garbage"]),
        (f"{CRON} --start 2026-03-07T12:00:00+01:00", ["--start", "offset"]),
        (f"{CRON} --start 2026-03-07T12:00:00Z", ["--start", "offset"]),
        (f"{CRON} --end soon", ["--end"]),
        (f"{CRON} --count 0", ["--count"]),
        (f"{CRON} --count many", ["--count"]),
        (f"{CRON} --start 0001-01-01T00:00:00 --tz America/New_York", ["--start", "year"]),
        (f"{CRON} --start 9999-12-31T23:00:00 --tz Pacific/Kiritimati", ["--start", "year"]),
        (
            "schedule-preview --type date --at 9999-12-31T23:00:00 --tz America/New_York",
            ["runAt", "year"],
        ),
    ],
)
def test_schedule_preview_bad_input_fails_with_one_line(runner, command, words):
    assert_one_line_error(flask(runner, command), *words)


def test_installed_flask_command_runs_schedule_preview(tmp_path):
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("FLASK_", "ALMANAC"))
    }
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "SECRET_KEY": "cli-test"}
    executable = Path(sys.executable).parent / "flask"
    completed = subprocess.run(
        [str(executable), "--app", "app:create_app", *shlex.split(SPEC_CASE)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "2026-03-08T07:00:00Z\n2026-03-09T06:30:00Z\n2026-03-10T06:30:00Z\n"


# --- sync-tasks -----------------------------------------------------------------------------


def test_sync_tasks_adds_registered_tasks_once(runner):
    db.session.execute(delete(TaskFunction))
    db.session.commit()
    expected = len(list(registry))

    first = flask(runner, "sync-tasks")
    assert first.exit_code == 0, first.output
    assert first.output.startswith(f"{expected} added, 0 updated")

    second = flask(runner, "sync-tasks")
    assert second.exit_code == 0, second.output
    assert second.output.startswith(f"0 added, {expected} updated")
    assert db.session.scalar(select(func.count()).select_from(TaskFunction)) == expected


# --- seed-demo ------------------------------------------------------------------------------


def test_seed_demo_creates_admin_and_jobs_once(app, runner, monkeypatch, tmp_path):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))

    first = flask(runner, "seed-demo")
    assert first.exit_code == 0, first.output
    password = (tmp_path / "demo-admin-password").read_text().strip()
    assert first.output == f"demo admin: {DEMO_EMAIL} / {password}\n"
    assert os.stat(tmp_path / "demo-admin-password").st_mode & 0o777 == 0o600
    admin = accounts.authenticate(db.session, DEMO_EMAIL, password)
    assert admin is not None
    assert admin.role == "admin"
    names = set(db.session.scalars(select(ScheduledJob.name)))
    assert names == {spec["name"] for spec in DEMO_JOBS}
    assert len(names) == 4

    second = flask(runner, "seed-demo")
    assert second.exit_code == 0, second.output
    assert second.output == first.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    assert db.session.scalar(select(func.count()).select_from(ScheduledJob)) == 4


# --- cleanup --------------------------------------------------------------------------------


def test_cleanup_deletes_only_old_finished_executions(runner, editor, make_job, make_execution):
    job = make_job(editor)
    old = utcnow() - timedelta(days=10)
    recent = utcnow() - timedelta(days=2)
    gone = [make_execution(job, status=s, created_at=old) for s in ("success", "failed", "timeout")]
    kept = [
        make_execution(job, status="running", created_at=old),
        make_execution(job, status="queued", created_at=old),
        make_execution(job, status="success", created_at=recent),
    ]
    gone_ids = {row.id for row in gone}
    kept_ids = {row.id for row in kept}

    result = flask(runner, "cleanup --days 7")
    assert result.exit_code == 0, result.output
    assert result.output == "deleted 3 executions older than 7 days\n"
    db.session.expire_all()
    remaining = set(db.session.scalars(select(Execution.id)))
    assert remaining == kept_ids
    assert not remaining & gone_ids


def test_cleanup_defaults_to_retention_period(app, runner, editor, make_job, make_execution):
    job = make_job(editor)
    days = app.config["HISTORY_RETENTION_DAYS"]
    make_execution(job, created_at=utcnow() - timedelta(days=days + 1))
    make_execution(job, created_at=utcnow() - timedelta(days=days - 1))
    result = flask(runner, "cleanup")
    assert result.exit_code == 0, result.output
    assert result.output == f"deleted 1 executions older than {days} days\n"
    assert db.session.scalar(select(func.count()).select_from(Execution)) == 1


def test_cleanup_refuses_zero_days(runner):
    assert_one_line_error(flask(runner, "cleanup --days 0"), "--days")
