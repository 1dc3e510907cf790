"""The failed-tasks page: list, filters, groups by error, bulk retry and discard with counts,
one item's attempts; permissions, CSRF and bad input."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Execution, RetryItem, utcnow
from tests.test_auth import csrf_token
from tests.test_web_jobs_actions import PARTIAL, sign_in

ROW = re.compile(r'<tr id="failed-row-([0-9a-f-]+)"')


def shown(response) -> list[str]:
    return ROW.findall(response.get_data(as_text=True))


@pytest.fixture
def fail(app):
    """``fail(job, error, status=…)`` → a failed run of ``job`` with its retry item."""

    def factory(job, error, status="dead", triggered_by="scheduler", age=0, **fields):
        now = utcnow() - timedelta(minutes=age)
        run = Execution(job_id=job.id, status="failed", error_message=error, created_at=now,
                        triggered_by=triggered_by, error_traceback=f"Traceback\n  {error}",
                        started_at=now, completed_at=now)  # fmt: skip
        db.session.add(run)
        db.session.flush()
        item = RetryItem(execution_id=run.id, job_id=job.id, attempt=2, status=status,
                         next_try_at=now + timedelta(minutes=5), last_error=error,
                         created_at=now, updated_at=now, **fields)  # fmt: skip
        db.session.add(item)
        db.session.commit()
        return item

    return factory


def form(client, **fields):
    return {"csrf_token": csrf_token(client, "/failed")} | fields


def test_lists_waiting_and_dead_items_newest_first(client, editor, make_job, fail):
    job = make_job(editor, name="Import")
    dead = fail(job, "KeyError: 'a'", age=10)
    pending = fail(job, "KeyError: 'b'", status="pending", age=5)
    fail(job, "gone", status="discarded")
    sign_in(client, editor)
    response = client.get("/failed")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1>Failed tasks</h1>" in html
    assert shown(response) == [str(pending.id), str(dead.id)]
    assert "2 failed runs." in html and 'data-status="dead"' in html
    partial = client.get("/failed", headers=PARTIAL).get_data(as_text=True)
    assert partial.lstrip().startswith('<div id="failed-region"') and "<html" not in partial


def test_filters_status_text_task_trigger_and_job(client, admin, editor, make_job, fail):
    one = make_job(editor, name="Import")
    two = make_job(editor, name="Export", task_function="sleep", task_args={"seconds": 1})
    a = fail(one, "Timeout talking to db", status="pending")
    b = fail(one, "KeyError: 'x'", triggered_by="manual")
    c = fail(two, "KeyError: 'y'")
    sign_in(client, admin)
    assert shown(client.get("/failed?status=pending")) == [str(a.id)]
    assert shown(client.get("/failed?q=timeout")) == [str(a.id)]
    assert shown(client.get("/failed?task=sleep")) == [str(c.id)]
    assert shown(client.get("/failed?trigger=manual")) == [str(b.id)]
    b.execution.status = "timeout"
    db.session.commit()
    assert shown(client.get("/failed?outcome=timeout")) == [str(b.id)]
    assert len(shown(client.get("/failed?outcome=success"))) == 3  # not a failure: no filter
    assert shown(client.get("/failed?job=expo")) == [str(c.id)]
    assert "1 failed run matches." in client.get("/failed?job=expo").get_data(as_text=True)


def test_groups_by_type_and_normalised_message(client, editor, make_job, fail):
    job = make_job(editor)
    for number in (1, 22, 333):
        fail(job, f"TimeoutError: read {number} bytes from 10.0.0.{number}", age=number)
    fail(job, "KeyError: 'abc'")
    sign_in(client, editor)
    html = client.get("/failed?view=groups").get_data(as_text=True)
    groups = re.findall(r'<tr class="error-group">(.*?)</tr>', html, re.S)
    assert len(groups) == 2
    assert "TimeoutError" in groups[0] and "read &lt;n&gt; bytes from &lt;n&gt;" in groups[0]
    assert "<div>3</div>" in groups[0] and "Apply to 3…" in groups[0]
    assert "KeyError" in groups[1] and "&#39;…&#39;" in groups[1]
    key = "TimeoutError: read <n> bytes from <n>"
    listed = client.get("/failed", query_string={"group": key})
    assert len(shown(listed)) == 3
    assert "3 failed runs with this error." in listed.get_data(as_text=True)


def test_bulk_retry_all_matching_confirms_with_count_then_reports(
    client, editor, make_job, fail, rec
):
    job = make_job(editor, name="Sync")
    items = [fail(job, f"OSError: disk {n} full") for n in range(3)]
    items[0].status = "claimed"  # being retried already
    db.session.commit()
    sign_in(client, editor)
    body = form(client, action="trigger", all="1", q="disk")
    confirm = client.post("/failed/bulk", data=body)
    assert confirm.status_code == 200
    assert "<h1" in confirm.get_data(as_text=True)
    assert "Retry now: 3 failed runs?" in confirm.get_data(as_text=True)
    assert db.session.scalar(select(Execution).where(Execution.triggered_by == "retry")) is None
    dialog = client.post("/failed/bulk", data=body, headers=PARTIAL).get_data(as_text=True)
    assert "<html" not in dialog and '<h2 id="failed-confirm-title">' in dialog
    done = client.post("/failed/bulk", data=body | {"confirmed": "1"})
    assert done.status_code == 303 and done.headers["Location"] == "/failed?q=disk"
    html = client.get("/failed?q=disk").get_data(as_text=True)
    assert "2 queued for retry, 1 was already retried or discarded" in html
    attempts = db.session.scalars(select(Execution).where(Execution.triggered_by == "retry"))
    assert sorted(run.attempt for run in attempts) == [2, 2]


def test_bulk_discard_of_ticked_rows(client, editor, make_job, fail):
    job = make_job(editor)
    one, two, three = (fail(job, f"E{n}") for n in range(3))
    sign_in(client, editor)
    body = form(client, action="discard", ids=[str(one.id), str(two.id)], status="dead")
    assert "Discard: 2 failed runs?" in client.post("/failed/bulk", data=body).get_data(
        as_text=True
    )
    client.post("/failed/bulk", data=body | {"confirmed": "1"})
    db.session.expire_all()
    assert [one.status, two.status, three.status] == ["discarded", "discarded", "dead"]
    assert "2 discarded" in client.get("/failed?status=dead").get_data(as_text=True)
    again = client.post("/failed/bulk", data=body | {"confirmed": "1"})
    assert "0 discarded, 2 were already retried or discarded" in client.get(
        again.headers["Location"]
    ).get_data(as_text=True)


def test_bulk_on_one_group(client, editor, make_job, fail):
    job = make_job(editor)
    timeouts = [fail(job, f"TimeoutError: after {n} s") for n in (5, 6)]
    other = fail(job, "ValueError: bad")
    sign_in(client, editor)
    body = form(client, action="discard", target_group="TimeoutError: after <n> s", view="groups")
    assert "Discard: 2 failed runs?" in client.post("/failed/bulk", data=body).get_data(
        as_text=True
    )
    done = client.post("/failed/bulk", data=body | {"confirmed": "1"})
    assert done.headers["Location"] == "/failed?view=groups"
    db.session.expire_all()
    assert {item.status for item in timeouts} == {"discarded"} and other.status == "dead"


def test_item_page_shows_traceback_and_each_attempt_with_its_backoff(
    client, editor, make_job, fail
):
    job = make_job(editor, name="Chain")
    first = fail(job, "RuntimeError: first", status="done")
    first.next_try_at = first.created_at + timedelta(seconds=90)
    second_run = Execution(job_id=job.id, status="failed", attempt=2, retry_of=first.execution_id,
                           triggered_by="retry", error_message="RuntimeError: second",
                           error_traceback="Traceback (most recent call last):\n boom")  # fmt: skip
    db.session.add(second_run)
    db.session.flush()
    first.retry_execution_id = second_run.id
    last = RetryItem(execution_id=second_run.id, job_id=job.id, attempt=3, status="dead",
                     next_try_at=utcnow(), last_error="RuntimeError: second")  # fmt: skip
    db.session.add(last)
    db.session.commit()
    sign_in(client, editor)
    html = client.get(f"/failed/{last.id}").get_data(as_text=True)
    assert "Traceback (most recent call last):" in html
    assert "Attempt 1" in html and "Attempt 2" in html
    assert "1.5 minutes" in html or "2 minutes" in html
    assert "No attempts left: dead" in html


def test_viewer_reads_but_cannot_act(client, viewer, editor, make_job, fail):
    item = fail(make_job(editor), "E")
    sign_in(client, viewer)
    html = client.get("/failed").get_data(as_text=True)
    assert str(item.id) in html and 'id="failed-bulk"' not in html and "Retry now" not in html
    assert client.get(f"/failed/{item.id}").status_code == 200
    body = form(client, action="trigger", ids=[str(item.id)], confirmed="1")
    assert client.post("/failed/bulk", data=body).status_code == 403
    db.session.expire_all()
    assert item.status == "dead"


def test_editor_sees_and_acts_only_on_own_jobs(client, editor, outsider, make_job, fail):
    mine = fail(make_job(editor, name="Mine"), "E")
    theirs = fail(make_job(outsider, name="Theirs"), "E")
    sign_in(client, editor)
    assert shown(client.get("/failed")) == [str(mine.id)]
    assert client.get(f"/failed/{theirs.id}").status_code == 404
    body = form(client, action="discard", ids=[str(theirs.id)], confirmed="1")
    client.post("/failed/bulk", data=body)
    all_body = form(client, action="discard", all="1", confirmed="1")
    client.post("/failed/bulk", data=all_body)
    db.session.expire_all()
    assert (mine.status, theirs.status) == ("discarded", "dead")


def test_system_task_items_are_counted_not_touched_for_editors(
    client, admin, editor, make_job, fail
):
    from app.models import ScheduledJob, TaskFunction

    job = make_job(editor, name="Mine")
    system = db.session.scalar(select(TaskFunction).where(TaskFunction.is_system))
    db.session.get(ScheduledJob, job.id).task_function_id = system.id
    db.session.commit()
    item = fail(job, "E")
    sign_in(client, editor)
    html = client.get("/failed").get_data(as_text=True)
    assert 'name="ids"' not in html  # no checkbox for a run the editor may not change
    done = client.post("/failed/bulk", data=form(client, action="discard", all="1", confirmed="1"))
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "0 discarded, 1 left alone: you may not change its job" in page
    db.session.expire_all()
    assert item.status == "dead"


def test_csrf_is_required(client, editor, make_job, fail):
    item = fail(make_job(editor), "E")
    sign_in(client, editor)
    body = {"action": "discard", "ids": str(item.id), "confirmed": "1"}
    assert client.post("/failed/bulk", data=body).status_code == 400
    db.session.expire_all()
    assert item.status == "dead"


@pytest.mark.parametrize(
    "fields",
    [{"action": "explode", "all": "1"}, {"action": "trigger"}, {"action": "discard", "ids": "x"}],
)
def test_bad_bulk_input_is_explained(client, editor, make_job, fail, fields):
    item = fail(make_job(editor), "E")
    sign_in(client, editor)
    response = client.post("/failed/bulk", data=form(client, **fields))
    assert response.status_code == 303
    assert "flash flash-error" in client.get(response.headers["Location"]).get_data(as_text=True)
    dialog = client.post("/failed/bulk", data=form(client, **fields), headers=PARTIAL)
    assert dialog.status_code == 200 and 'role="alert"' in dialog.get_data(as_text=True)
    db.session.expire_all()
    assert item.status == "dead"


def test_bad_query_values_never_500(client, editor, make_job, fail):
    fail(make_job(editor), "E")
    sign_in(client, editor)
    for query in (
        "status=nope&view=x&page=-3&since=never",
        "page=999999",
        "group=%00" + "z" * 400,
        "q=%00&job=%00",
    ):
        assert client.get(f"/failed?{query}").status_code == 200
    assert client.get("/failed/not-a-uuid").status_code == 404


def test_pages_of_twenty_and_a_page_past_the_end(client, editor, make_job, fail):
    job = make_job(editor)
    items = [fail(job, f"E{n}", age=n) for n in range(23)]
    sign_in(client, editor)
    first = client.get("/failed")
    assert shown(first) == [str(item.id) for item in items[:20]]
    assert "Page 1 of 2" in first.get_data(as_text=True)
    assert shown(client.get("/failed?page=2")) == [str(item.id) for item in items[20:]]
    beyond = client.get("/failed?page=7").get_data(as_text=True)
    assert "Back to the first page" in beyond and "No failed runs" not in beyond


def test_more_than_one_action_may_take_is_said(client, editor, make_job, fail, monkeypatch):
    from app.services.failures import retry_queue

    monkeypatch.setattr(retry_queue, "BULK_LIMIT", 2)
    job = make_job(editor)
    items = [fail(job, f"E{n}") for n in range(3)]
    sign_in(client, editor)
    done = client.post("/failed/bulk", data=form(client, action="discard", all="1", confirmed="1"))
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "2 discarded, more matched than one action may change" in page
    db.session.expire_all()
    assert sorted(item.status for item in items) == ["dead", "discarded", "discarded"]
