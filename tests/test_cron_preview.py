"""The day rule in words, and one reading of cron in the preview API, the CLI and the scheduler."""

from datetime import UTC, datetime

import pytest

from app.services.scheduling import schedule
from app.timemath import ScheduleError, describe_days

# --- the day rule in words ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("* 3 */14 * 2-6", "on days 1, 15 and 29 if it is Tuesday\u2013Saturday"),
        ("0 0 1,15 * 1", "on days 1 and 15, or on Mondays"),
        ("0 0 1 * 1,3,5", "on day 1, or on Mondays, Wednesdays and Fridays"),
        ("0 0 * * 6,7", "on Saturdays and Sundays"),
        ("0 0 * * 1-5", "on Monday\u2013Friday"),
        ("0 0 1-10,20 * *", "on days 1\u201310 and 20"),
        ("0 0 */1 * 1,3", "on Mondays and Wednesdays"),
        ("0 0 */30 2 1", "on days 1 and 31 if it is Monday"),
        ("0 0 */30 2 1,2", "on days 1 and 31 if it is Monday or Tuesday"),
        ("0 0 L * 1", "on the last day of the month, or on Mondays"),
        ("0 0 15W * *", "on the weekday nearest day 15"),
        ("0 0 */5 * 1#2", "on days 1, 6, 11, 16, 21, 26 and 31 if it is the second Monday"),
        ("0 0 * * L5", "on the last Friday of the month"),
        ("@weekly", "on Sundays"),
    ],
)
def test_describe_days_states_the_rule(expression, words):
    described = describe_days(expression)
    assert described is not None
    assert described.startswith(words)


@pytest.mark.parametrize("expression", ["0 0 * * *", "0 0 1-31 * 1", "0 0 ? * 0-7", "@hourly"])
def test_describe_days_is_none_when_every_day_runs(expression):
    assert describe_days(expression) is None


def test_describe_days_refuses_what_parse_refuses():
    with pytest.raises(ScheduleError):
        describe_days("0 5-3 * * *")


# --- one reading everywhere: preview API, CLI, scheduler ------------------------------------


def test_preview_api_reads_the_day_rule_and_says_it(api_as, viewer):
    body = {
        "jobType": "cron",
        "scheduleConfig": {"expression": "* 3 */14 * 2-6"},
        "timezone": "Asia/Tehran",
        "startDate": "2028-03-20T00:00:00",
        "count": 1,
    }
    response = api_as(viewer).post("/schedule-preview", body)
    assert response.status_code == 200, response.json
    assert response.json["fireTimes"][0]["local"].startswith("2028-03-29T03:00:00")
    assert response.json["description"] == "on days 1, 15 and 29 if it is Tuesday\u2013Saturday"


def test_preview_api_has_no_description_for_intervals(api_as, viewer):
    body = {"jobType": "interval", "scheduleConfig": {"minutes": 5}, "count": 1}
    assert api_as(viewer).post("/schedule-preview", body).json["description"] is None


def test_preview_api_refuses_a_backwards_range(api_as, viewer):
    body = {"jobType": "cron", "scheduleConfig": {"expression": "0 5-3 * * *"}}
    response = api_as(viewer).post("/schedule-preview", body)
    assert response.status_code == 422
    assert "backwards" in response.json["error"]["fields"]["scheduleConfig.expression"]


def test_cli_prints_times_then_the_days_on_stderr(runner):
    args = ["schedule-preview", "--type", "cron", "--expr", "0 9 * * 1-1"]
    result = runner.invoke(args=[*args, "--start", "2026-01-01T00:00:00", "--count", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "2026-01-05T09:00:00Z\n2026-01-12T09:00:00Z\n"
    assert result.stderr == "Runs on Mondays.\n"


def test_scheduler_uses_the_same_reading(make_job, editor):
    job = make_job(
        editor,
        job_type="cron",
        schedule_config={"expression": "5-5 9 * * *"},
        now=datetime(2099, 1, 1, tzinfo=UTC),
    )
    after = datetime(2099, 1, 1, tzinfo=UTC)
    assert schedule.upcoming(job, after, 2) == [
        datetime(2099, 1, 1, 9, 5, tzinfo=UTC),
        datetime(2099, 1, 2, 9, 5, tzinfo=UTC),
    ]
