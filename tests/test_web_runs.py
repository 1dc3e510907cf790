"""The runs page: every run newest first, filters, keyset pages, live rows, permissions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.extensions import db
from app.models import Execution, utcnow
from tests.test_web_jobs_actions import PARTIAL, sign_in

ROW = re.compile(r'<tr id="run-row-([0-9a-f-]+)"')


def shown(response) -> list[str]:
    return ROW.findall(response.get_data(as_text=True))


def test_runs_newest_first_with_links_to_run_and_job(client, editor, make_job, make_execution):
    job = make_job(editor, name="Nightly report")
    now = utcnow()
    old = make_execution(job, status="success", created_at=now - timedelta(hours=2))
    new = make_execution(job, status="failed", error_message="KeyError: 'x'", created_at=now)
    sign_in(client, editor)
    response = client.get("/runs")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1>Runs</h1>" in html
    assert shown(response) == [str(new.id), str(old.id)]
    assert f'href="/runs/{new.id}"' in html and f'href="/jobs/{job.id}"' in html
    assert "KeyError: &#39;x&#39;" in html
    assert "HX-Request" in response.headers["Vary"]


def test_partial_is_only_the_table_region(client, editor, make_job, make_execution):
    make_execution(make_job(editor), status="success")
    sign_in(client, editor)
    html = client.get("/runs", headers=PARTIAL).get_data(as_text=True)
    assert html.lstrip().startswith('<div id="runs-table"') and "<html" not in html


def test_filters_outcome_trigger_task_job_queue_and_error_text(
    client, admin, editor, make_job, make_execution
):
    report = make_job(editor, name="Report", queue="reports")
    other = make_job(editor, name="Backup", task_function="sleep", task_args={"seconds": 1})
    failed = make_execution(report, status="failed", error_message="Timeout after 30 s")
    manual = make_execution(report, status="success", triggered_by="manual")
    echo = make_execution(other, status="success")
    sign_in(client, admin)
    assert shown(client.get("/runs?outcome=failed")) == [str(failed.id)]
    assert shown(client.get("/runs?trigger=manual")) == [str(manual.id)]
    assert shown(client.get("/runs?task=sleep")) == [str(echo.id)]
    assert shown(client.get("/runs?job=backu")) == [str(echo.id)]
    assert shown(client.get(f"/runs?job={other.id}")) == [str(echo.id)]
    assert set(shown(client.get("/runs?queue=reports"))) == {str(failed.id), str(manual.id)}
    assert shown(client.get("/runs?q=timeout")) == [str(failed.id)]


def test_time_window_by_slot_or_by_start_in_the_display_zone(
    client, editor, make_job, make_execution
):
    job = make_job(editor)
    day = datetime(2026, 3, 10, tzinfo=UTC)
    early = make_execution(job, scheduled_for=day, started_at=day + timedelta(hours=5))
    late = make_execution(job, scheduled_for=day + timedelta(hours=3), started_at=day)
    sign_in(client, editor)
    by_slot = "/runs?window=scheduled&since=2026-03-10T02:00&until=2026-03-10T04:00"
    assert shown(client.get(by_slot)) == [str(late.id)]
    by_start = "/runs?window=started&since=2026-03-10T04:00&until=2026-03-10T06:00"
    assert shown(client.get(by_start)) == [str(early.id)]


def test_keyset_pages_continue_after_the_cursor(client, editor, make_job, make_execution):
    job = make_job(editor)
    now = utcnow()
    runs = [make_execution(job, created_at=now - timedelta(seconds=i)) for i in range(55)]
    sign_in(client, editor)
    first = client.get("/runs?outcome=success")
    assert shown(first) == [str(run.id) for run in runs[:50]]
    older = re.search(
        r'href="(/runs\?[^"]*cursor=[^"]+)"[^>]*rel="next"', first.get_data(as_text=True)
    )
    assert older
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert shown(second) == [str(run.id) for run in runs[50:]]
    assert "Newest runs" in second.get_data(as_text=True)
    assert 'rel="next"' not in second.get_data(as_text=True)


def test_bad_values_fall_back_or_answer_400_never_500(client, editor, make_job, make_execution):
    make_execution(make_job(editor))
    sign_in(client, editor)
    for query in ("outcome=nope&trigger=x&since=yesterday&window=never", "job=%00" + "x" * 500):
        assert client.get(f"/runs?{query}").status_code == 200
    assert client.get("/runs?cursor=not-a-cursor").status_code == 422
    assert client.get("/runs/rows?ids=nope,also-not").status_code == 200


def test_empty_fields_are_dropped_from_the_url(client, editor):
    sign_in(client, editor)
    response = client.get("/runs?q=&outcome=failed&task=")
    assert response.status_code == 302 and response.headers["Location"] == "/runs?outcome=failed"


def test_running_rows_poll_until_they_end(client, editor, make_job, make_execution):
    job = make_job(editor)
    running = make_execution(job, status="running", started_at=utcnow())
    done = make_execution(job, status="success")
    sign_in(client, editor)
    html = client.get("/runs").get_data(as_text=True)
    assert f'data-polled="{running.id}"' in html and 'hx-trigger="every 3s"' in html
    poll = client.get(f"/runs/rows?ids={running.id},{done.id}", headers=PARTIAL)
    assert poll.headers["Cache-Control"] == "no-store"
    body = poll.get_data(as_text=True)
    assert 'hx-trigger="every 3s"' in body and body.count('hx-swap-oob="true"') == 2
    running.status = "success"
    db.session.commit()
    ended = client.get(f"/runs/rows?ids={running.id}", headers=PARTIAL).get_data(as_text=True)
    assert "hx-trigger" not in ended.split("<template>")[0]
    assert f'id="run-row-{running.id}" data-run-status="success"' in ended


def test_editors_see_only_their_own_jobs_runs(client, editor, outsider, make_job, make_execution):
    mine = make_execution(make_job(editor, name="Mine"))
    theirs = make_execution(make_job(outsider, name="Theirs"))
    sign_in(client, editor)
    assert shown(client.get("/runs")) == [str(mine.id)]
    body = client.get(f"/runs/rows?ids={theirs.id}").get_data(as_text=True)
    assert str(theirs.id) not in body


def test_viewers_see_every_run(client, editor, outsider, viewer, make_job, make_execution):
    mine = make_execution(make_job(editor, name="Mine"))
    theirs = make_execution(make_job(outsider, name="Theirs"))
    sign_in(client, viewer)
    assert set(shown(client.get("/runs"))) == {str(mine.id), str(theirs.id)}


def test_signed_out_is_sent_to_login(client):
    response = client.get("/runs")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_queries_per_page_do_not_grow_with_rows(client, admin, editor, make_job, make_execution):
    from tests.conftest import counted_statements

    sign_in(client, admin)
    counts = []
    for total in (3, 12):
        while db.session.query(Execution).count() < total:
            make_execution(make_job(editor), status="success")
        client.get("/runs")
        db.session.expire_all()  # as in a real request: no job already loaded
        with counted_statements() as statements:
            assert len(shown(client.get("/runs"))) == total
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_the_job_page_links_to_its_runs_and_failures(client, editor, make_job, make_execution):
    job = make_job(editor, name="Linked")
    mine = make_execution(job)
    make_execution(make_job(editor, name="Other"))
    sign_in(client, editor)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f'href="/runs?job={job.id}"' in html and f'href="/failed?job={job.id}"' in html
    assert shown(client.get(f"/runs?job={job.id}")) == [str(mine.id)]
