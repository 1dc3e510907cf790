"""Settings → Webhooks: list, create (secret once), edit, turn on/off, rotate, delete, the
delivery log with ping and replay; htmx and plain forms; permissions; CSRF; field errors."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from app import signing
from app.extensions import db
from app.models import Webhook, WebhookDelivery, utcnow
from app.services.events import deliveries, webhooks
from tests.conftest import PASSWORD
from tests.test_auth import csrf_token, post_login

PARTIAL = {"HX-Request": "true"}
URL = "/settings/webhooks"
FAST = deliveries.DeliverySettings(timeout=2, max_attempts=3, retry_base=1, retry_max=60)


def sign_in(client, persona):
    post_login(client, persona.user.email, PASSWORD)
    return persona


def form(client, **fields):
    return {"csrf_token": csrf_token(client, URL)} | fields


def hook_for(job, url="https://hooks.example.com/almanac", **fields):
    row = Webhook(job_id=job.id if job else None, phase="failed", url=url,
                  secret=signing.new_secret(), **fields)  # fmt: skip
    db.session.add(row)
    db.session.commit()
    return row


def hooks() -> list[Webhook]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Webhook)))


def new_fields(job, **changes):
    base = {"url": "https://hooks.example.com/in", "phase": "failed", "status_code": "",
            "scope": "job", "job_ids": str(job.id), "description": "pager",
            "is_active": "y"}  # fmt: skip
    return base | changes


@pytest.fixture
def job(make_job, editor):
    return make_job(editor, name="Nightly report")


def test_list_full_and_partial_with_the_job_name(client, editor, job):
    sign_in(client, editor)
    hook_for(job)
    page = client.get(URL)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.startswith("<!doctype html>")
    assert "HX-Request" in page.vary
    assert "hooks.example.com/almanac" in html and "<bdi>Nightly report</bdi>" in html
    assert "New webhook" in html
    partial = client.get(URL, headers=PARTIAL).get_data(as_text=True)
    assert partial.lstrip().startswith('<div id="webhooks-list"') and "<html" not in partial


def test_editor_does_not_see_other_editors_webhooks(client, editor, outsider, make_job):
    hook_for(make_job(outsider, name="Theirs"), url="https://theirs.example.com/x")
    sign_in(client, editor)
    assert "theirs.example.com" not in client.get(URL).get_data(as_text=True)


def test_viewer_reads_but_has_no_write_controls_and_cannot_write(client, viewer, job):
    row = hook_for(job)
    sign_in(client, viewer)
    html = client.get(URL).get_data(as_text=True)
    assert "hooks.example.com/almanac" in html and "New webhook" not in html
    detail = client.get(f"{URL}/{row.id}").get_data(as_text=True)
    for control in ("/ping", "/rotate", "/delete", "/edit"):
        assert control not in detail
    assert client.get(f"{URL}/new").status_code == 403
    assert client.post(f"{URL}/{row.id}/ping", data=form(client)).status_code == 403
    assert client.post(f"{URL}/{row.id}/disable", data=form(client)).status_code == 403
    assert hooks()[0].is_active


def test_create_shows_the_secret_once(client, editor, job):
    sign_in(client, editor)
    form_page = client.get(f"{URL}/new?job={job.id}").get_data(as_text=True)
    assert f'<option selected value="{job.id}">' in form_page  # ?job= picks it
    assert 'value="all"' not in form_page  # every job: admins only
    response = client.post(f"{URL}/new", data=form(client, **new_fields(job)))
    html = response.get_data(as_text=True)
    assert response.status_code == 201, html
    assert response.headers["Cache-Control"] == "no-store"
    [row] = hooks()
    assert (row.job_id, row.phase, row.status_code, row.is_active) == (job.id, "failed", None, True)
    assert re.search(rf'id="webhook-secret-value"[^>]*value="{re.escape(row.secret)}"', html)
    assert row.secret not in client.get(f"{URL}/{row.id}").get_data(as_text=True)


def test_admin_may_add_a_webhook_for_every_job(client, admin, job):
    sign_in(client, admin)
    fields = new_fields(job, scope="all", job_ids="", phase="dead", status_code="5xx")
    assert client.post(f"{URL}/new", data=form(client, **fields)).status_code == 201
    [row] = hooks()
    assert (row.job_id, row.phase, row.status_code) == (None, "dead", "5xx")


def test_editor_posting_every_job_anyway_is_refused(client, editor, job):
    sign_in(client, editor)
    fields = new_fields(job, scope="all", job_ids="")
    assert client.post(f"{URL}/new", data=form(client, **fields)).status_code == 422
    assert hooks() == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"url": ""}, "url", "Enter the URL to send events to."),
        ({"url": "http://10.1.2.3/hook"}, "url", "10.1.2.3"),  # the outbound guard's refusal
        ({"phase": "started", "status_code": "503"}, "status_code", "only for the phases"),
        ({"status_code": "6xx"}, "status_code", "such as 503"),
        ({"job_ids": ""}, "job_ids", "Choose the job"),
        ({"phase": "bogus"}, "phase", ""),
    ],
)
def test_bad_input_is_a_field_error_and_nothing_is_saved(
    client, editor, job, changes, field, message
):
    sign_in(client, editor)
    response = client.post(f"{URL}/new", data=form(client, **new_fields(job, **changes)))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    slot = re.search(rf'<p id="err-{field}" class="field-error">(.*?)</p>', html, re.S)
    assert slot and slot.group(1).strip() and message in slot.group(1)
    assert hooks() == []


def test_someone_elses_job_is_refused_as_a_field_error(client, editor, outsider, make_job):
    theirs = make_job(outsider, name="Theirs")
    sign_in(client, editor)
    response = client.post(f"{URL}/new", data=form(client, **new_fields(theirs)))
    assert response.status_code == 422
    assert re.search(
        r'<p id="err-job_ids" class="field-error"><span', response.get_data(as_text=True)
    )
    assert hooks() == []


def test_post_without_csrf_is_refused(client, editor, job):
    sign_in(client, editor)
    assert client.post(f"{URL}/new", data=new_fields(job)).status_code == 400
    row = hook_for(job)
    assert client.post(f"{URL}/{row.id}/disable").status_code == 400
    assert client.post(f"{URL}/{row.id}/delete", data={"confirmed": "1"}).status_code == 400
    assert len(hooks()) == 1 and hooks()[0].is_active


def test_edit_keeps_the_secret_and_redirects(client, editor, job):
    row = hook_for(job)
    secret = row.secret
    sign_in(client, editor)
    assert 'value="https://hooks.example.com/almanac"' in client.get(
        f"{URL}/{row.id}/edit"
    ).get_data(as_text=True)
    fields = new_fields(job, phase="succeeded", status_code="2xx", url="https://new.example.com/h")
    fields |= {"job_id": str(job.id)}
    response = client.post(f"{URL}/{row.id}/edit", data=form(client, **fields))
    assert response.status_code == 303 and response.headers["Location"] == f"{URL}/{row.id}"
    [saved] = hooks()
    assert (saved.url, saved.phase, saved.status_code, saved.secret) == (
        "https://new.example.com/h", "succeeded", "2xx", secret,
    )  # fmt: skip
    assert "Webhook saved." in client.get(f"{URL}/{row.id}").get_data(as_text=True)


def test_turn_off_and_on(client, editor, job):
    row = hook_for(job)
    sign_in(client, editor)
    response = client.post(f"{URL}/{row.id}/disable", data=form(client))
    assert response.status_code == 303
    assert not hooks()[0].is_active
    html = client.get(f"{URL}/{row.id}").get_data(as_text=True)
    assert "Webhook turned off." in html and 'data-status="off"' in html
    assert "/ping" not in html  # a turned-off webhook is not pinged
    client.post(f"{URL}/{row.id}/enable", data=form(client))
    assert hooks()[0].is_active


def test_rotate_asks_first_then_shows_the_new_secret_once(client, editor, job):
    row = hook_for(job)
    old = row.secret
    sign_in(client, editor)
    asked = client.post(f"{URL}/{row.id}/rotate", data=form(client))
    assert asked.status_code == 200 and "Rotate the signing secret" in asked.get_data(as_text=True)
    assert hooks()[0].secret == old
    done = client.post(f"{URL}/{row.id}/rotate", data=form(client, confirmed="1"))
    new = hooks()[0].secret
    assert done.status_code == 200 and new != old
    assert done.headers["Cache-Control"] == "no-store"
    assert f'value="{new}"' in done.get_data(as_text=True)


def test_delete_asks_first(client, editor, job):
    row = hook_for(job)
    sign_in(client, editor)
    assert "Delete the webhook" in client.get(f"{URL}/{row.id}/delete").get_data(as_text=True)
    client.post(f"{URL}/{row.id}/delete", data=form(client))
    assert len(hooks()) == 1
    response = client.post(f"{URL}/{row.id}/delete", data=form(client, confirmed="1"))
    assert response.status_code == 303 and response.headers["Location"] == URL
    assert hooks() == []
    htmx_row = hook_for(job)
    answer = client.post(
        f"{URL}/{htmx_row.id}/delete", data=form(client, confirmed="1"), headers=PARTIAL
    )
    assert answer.headers["HX-Redirect"] == URL and hooks() == []


def test_ping_with_htmx_answers_the_polling_log_and_a_toast(client, editor, job):
    row = hook_for(job)
    sign_in(client, editor)
    response = client.post(f"{URL}/{row.id}/ping", data=form(client), headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="deliveries"')
    assert 'hx-trigger="every 2s"' in html and 'data-status="pending"' in html
    assert json.loads(response.headers["HX-Trigger"])["toast"]["level"] == "success"
    [delivery] = db.session.scalars(db.select(WebhookDelivery)).all()
    assert delivery.phase == "ping"


def test_ping_without_js_redirects_and_a_turned_off_webhook_says_why(client, editor, job):
    row = hook_for(job, is_active=False)
    sign_in(client, editor)
    response = client.post(f"{URL}/{row.id}/ping", data=form(client))
    assert response.status_code == 303
    assert "turned off" in client.get(f"{URL}/{row.id}").get_data(as_text=True)
    assert db.session.scalars(db.select(WebhookDelivery)).all() == []


def test_log_shows_the_delivery_and_stops_polling_then_replays(client, editor, job, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("pong <ok>", status=200)
    row = hook_for(job, url=httpserver.url_for("/hook"))
    sign_in(client, editor)
    sent = deliveries.ping(db.session, editor.user, row.id, utcnow())
    deliveries.dispatch_due(db.session, utcnow() + timedelta(seconds=1), 10)
    db.session.commit()
    assert deliveries.deliver(db.session, sent.id, FAST, utcnow()) == "delivered"
    log = client.get(f"{URL}/{row.id}", headers=PARTIAL)
    html = log.get_data(as_text=True)
    assert log.headers["Cache-Control"] == "no-store"
    assert 'data-polling="no"' in html and "every 2s" not in html
    assert 'data-status="delivered"' in html and "HTTP 200" in html
    assert "pong &lt;ok&gt;" in html and "webhook-signature" in html.lower()
    replay = client.post(
        f"{URL}/{row.id}/deliveries/{sent.id}/replay", data=form(client), headers=PARTIAL
    )
    assert replay.status_code == 200
    again = db.session.scalars(
        db.select(WebhookDelivery).where(WebhookDelivery.replay_of == sent.id)
    ).one()
    assert again.event_id == sent.event_id
    filtered = client.get(f"{URL}/{row.id}?status=delivered", headers=PARTIAL).get_data(
        as_text=True
    )
    assert filtered.count('class="delivery"') == 1


def test_unknown_webhook_is_404(client, editor):
    sign_in(client, editor)
    assert client.get(f"{URL}/00000000-0000-0000-0000-000000000000").status_code == 404


def test_list_filters_by_phase_and_job_in_the_url(client, admin, editor, job, make_job):
    other = make_job(editor, name="Other job")
    hook_for(job, url="https://a.example.com/failed")
    hook_for(other, url="https://b.example.com/failed")
    dead = hook_for(job, url="https://c.example.com/dead")
    dead.phase = "dead"
    db.session.commit()
    sign_in(client, admin)
    by_phase = client.get(f"{URL}?phase=dead", headers=PARTIAL).get_data(as_text=True)
    assert "c.example.com" in by_phase and "a.example.com" not in by_phase
    by_job = client.get(f"{URL}?job={job.id}").get_data(as_text=True)
    assert "a.example.com" in by_job and "c.example.com" in by_job
    assert "b.example.com" not in by_job
    assert "Only those of the job" in by_job and "<bdi>Nightly report</bdi>" in by_job
    assert f"/settings/webhooks/new?job={job.id}" in by_job
    assert "a.example.com" in client.get(f"{URL}?phase=nonsense&job=x").get_data(as_text=True)


def test_several_jobs_make_one_webhook_each_with_one_secret(client, editor, job, make_job):
    other = make_job(editor, name="Weekly digest")
    sign_in(client, editor)
    data = form(client, **new_fields(job)) | {"job_ids": [str(job.id), str(other.id)]}
    response = client.post(f"{URL}/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 201
    rows = hooks()
    assert {row.job_id for row in rows} == {job.id, other.id}
    assert len({row.secret for row in rows}) == 1
    assert "2 webhooks created, one per job." in html and f'value="{rows[0].secret}"' in html


def test_one_refused_job_among_several_makes_none(client, editor, outsider, job, make_job):
    theirs = make_job(outsider, name="Theirs")
    sign_in(client, editor)
    data = form(client, **new_fields(job)) | {"job_ids": [str(job.id), str(theirs.id)]}
    assert client.post(f"{URL}/new", data=data).status_code == 422
    assert hooks() == []


def test_form_partial_and_detail_page_whole(client, editor, job):
    sign_in(client, editor)
    partial = client.get(f"{URL}/new", headers=PARTIAL).get_data(as_text=True)
    assert partial.lstrip().startswith('<form id="webhook-form"') and "<html" not in partial
    row = hook_for(job)
    page = client.get(f"{URL}/{row.id}")
    html = page.get_data(as_text=True)
    assert html.startswith("<!doctype html>") and '<div id="deliveries"' in html
    assert "HX-Request" in page.vary and "…" in html  # the secret's hint, never the secret
    assert row.secret not in html


def test_replay_without_js_redirects_to_the_page(client, editor, job):
    row = hook_for(job)
    sign_in(client, editor)
    sent = deliveries.ping(db.session, editor.user, row.id, utcnow())
    sent.status = "dead"
    db.session.commit()
    response = client.post(f"{URL}/{row.id}/deliveries/{sent.id}/replay", data=form(client))
    assert response.status_code == 303 and response.headers["Location"] == f"{URL}/{row.id}"
    assert "Event queued again" in client.get(f"{URL}/{row.id}").get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(WebhookDelivery)) == 2


def test_the_phase_table_marks_the_phases_the_service_lets_match(client, editor):
    sign_in(client, editor)
    html = client.get(f"{URL}/new").get_data(as_text=True)
    rows = re.findall(
        r'value="(\w+)"[^>]*> [^<]+</label></th>\s*<td>[^<]*</td>\s*<td>(.*?)</td>', html
    )
    can = {phase for phase, cell in rows if "Can match" in cell}
    assert len(rows) == 8
    assert can == {phase.value for phase in webhooks.HTTP_STATUS_PHASES}
