"""Webhooks, users, tokens and the job defaults write their audit events (never a secret)."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Role, utcnow
from app.services.events import webhooks
from app.services.scheduling import defaults
from app.services.users import accounts
from tests.conftest import PASSWORD
from tests.test_web_audit import shown_actions
from tests.test_web_detail import PARTIAL, sign_in

URL = "https://hooks.example.com/audited"


def events_of(object_id) -> list[AuditEvent]:
    """The object's events, oldest first."""
    query = select(AuditEvent).where(AuditEvent.object_id == object_id)
    return list(db.session.scalars(query.order_by(AuditEvent.created_at, AuditEvent.id)))


def stored(events: list[AuditEvent]) -> str:
    """Everything the events hold, as one text to search for what must not be there."""
    return json.dumps([event.changes for event in events])


def test_a_webhooks_life_is_on_the_trail_without_its_secret(admin):
    row = webhooks.create_webhook(
        db.session, admin.user, {"url": URL, "phase": "failed", "secret": "s3cret-one"}, utcnow()
    )
    webhook_id = row.id
    webhooks.update_webhook(db.session, admin.user, row, {"description": "pager"}, utcnow())
    webhooks.update_webhook(db.session, admin.user, row, {"is_active": False}, utcnow())
    webhooks.update_webhook(db.session, admin.user, row, {"is_active": True}, utcnow())
    new_secret = webhooks.rotate_secret(db.session, admin.user, row, utcnow()).secret
    webhooks.delete_webhook(db.session, admin.user, row)
    events = events_of(webhook_id)
    assert [e.action for e in events] == [
        "created",
        "updated",
        "disable",
        "enable",
        "secret_rotated",
        "deleted",
    ]
    assert {(e.object_type, e.user_id, e.job_id) for e in events} == {("webhook", admin.id, None)}
    assert events[0].changes["url"] == URL and "secret" not in events[0].changes
    assert events[1].changes == {"description": {"from": None, "to": "pager"}}
    assert events[4].changes == {"secret": {"from": None, "to": "rotated"}}
    assert events[5].changes["url"] == URL  # readable after the row is gone
    assert "s3cret-one" not in stored(events) and new_secret not in stored(events)


def test_webhooks_made_for_several_jobs_each_have_their_event(admin, editor, make_job):
    jobs = [make_job(editor, name="One").id, make_job(editor, name="Two").id]
    rows = webhooks.create_webhooks(
        db.session, admin.user, {"url": URL, "phase": "failed"}, jobs, utcnow()
    )
    for row in rows:
        (event,) = events_of(row.id)
        assert event.action == "created" and event.changes["job_id"] == str(row.job_id)
        assert row.secret not in stored([event])


def test_an_unchanged_webhook_update_writes_nothing(admin):
    row = webhooks.create_webhook(db.session, admin.user, {"url": URL, "phase": "failed"}, utcnow())
    webhooks.update_webhook(db.session, admin.user, row, {"url": URL}, utcnow())
    assert [e.action for e in events_of(row.id)] == ["created"]


def test_a_users_account_changes_are_on_the_trail_without_passwords(admin):
    user, one_time = accounts.invite_user(db.session, admin.user, "New@Example.com", "viewer")
    accounts.change_role(db.session, admin.user, user.id, Role.EDITOR.value)
    accounts.set_active(db.session, admin.user, user.id, False)
    accounts.set_active(db.session, admin.user, user.id, True)
    _, reset = accounts.reset_to_one_time(db.session, admin.user, user.id)
    accounts.change_password(db.session, user, reset, "a-new-password-1")
    events = events_of(user.id)
    assert [e.action for e in events] == [
        "created",
        "role_changed",
        "disable",
        "enable",
        "password_reset",
        "password_changed",
    ]
    assert {e.object_type for e in events} == {"user"}
    assert [e.user_id for e in events] == [admin.id] * 5 + [user.id]
    assert events[0].changes == {"email": "new@example.com", "role": "viewer", "display_name": None}
    assert events[1].changes == {"role": {"from": "viewer", "to": "editor"}}
    text = stored(events)
    assert one_time not in text and reset not in text and "a-new-password-1" not in text
    assert "password_hash" not in text and user.password_hash not in text


def test_no_change_no_event(admin, editor):
    accounts.change_role(db.session, admin.user, editor.id, Role.EDITOR.value)
    accounts.set_active(db.session, admin.user, editor.id, True)
    assert events_of(editor.id) == []


def test_the_command_line_signs_as_nobody(app):
    user = accounts.create_user(db.session, "cli@example.com", PASSWORD, "viewer")
    (event,) = events_of(user.id)
    assert event.action == "created" and event.user_id is None


def test_tokens_are_on_the_trail_by_name_never_the_token(admin, editor):
    row, token = accounts.create_token(db.session, editor.user, "deploy bot", by=admin.user)
    assert accounts.revoke_token(db.session, row.id, by=editor.user)
    assert accounts.revoke_token(db.session, row.id, by=editor.user)  # again: no new event
    events = events_of(row.id)
    assert [(e.action, e.user_id) for e in events] == [
        ("created", admin.id),
        ("revoked", editor.id),
    ]
    assert {e.object_type for e in events} == {"token"}
    assert events[0].changes == {"name": "deploy bot", "user": "editor@example.com"}
    assert token not in stored(events) and row.token_hash not in stored(events)


def test_disabling_a_user_revokes_their_tokens_on_the_trail(admin, editor):
    row, _ = accounts.create_token(db.session, editor.user, "laptop", by=editor.user)
    accounts.set_active(db.session, admin.user, editor.id, False)
    assert [(e.action, e.user_id, e.changes) for e in events_of(row.id)] == [
        ("created", editor.id, {"name": "laptop", "user": "editor@example.com"}),
        ("revoked", admin.id, {"name": "laptop"}),
    ]


def test_the_job_defaults_are_a_settings_event(admin):
    defaults.save(db.session, admin.user, {"retry_count": 2}, utcnow())
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == defaults.AUDIT_ACTION))
    assert event is not None
    assert (event.object_type, event.object_id, event.job_id) == ("settings", None, None)
    assert event.changes["retry_count"] == {"from": None, "to": 2}


def test_the_page_names_each_object_and_filters_by_type(client, admin, editor, make_job):
    job = make_job(editor, name="Nightly")
    hook = webhooks.create_webhook(
        db.session, admin.user, {"url": URL, "phase": "failed"}, utcnow()
    )
    gone = webhooks.create_webhook(
        db.session, admin.user, {"url": URL + "/old", "phase": "failed"}, utcnow()
    )
    webhooks.delete_webhook(db.session, admin.user, gone)
    webhooks.rotate_secret(db.session, admin.user, hook, utcnow())
    accounts.change_role(db.session, admin.user, editor.id, Role.VIEWER.value)
    row, _ = accounts.create_token(db.session, admin.user, "ci token", by=admin.user)
    defaults.save(db.session, admin.user, {"max_instances": 3}, utcnow())
    sign_in(client, admin)

    def page(**query) -> str:
        response = client.get("/audit", query_string=query, headers=PARTIAL)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    html = page()
    assert f'href="/jobs/{job.id}"><bdi>Nightly</bdi>' in html
    assert f'href="/settings/webhooks/{hook.id}"><bdi dir="ltr" class="ltr">{URL}</bdi>' in html
    assert f'<bdi dir="ltr" class="ltr">{URL}/old</bdi>' in html  # deleted: its URL kept
    assert "Webhook" in html and "Secret rotated" in html and hook.secret not in html
    assert "User <bdi>editor@example.com</bdi>" in html and "Role changed" in html
    assert "API token <bdi>ci token</bdi>" in html
    assert 'href="/settings/defaults">Defaults for new jobs</a>' in html
    assert shown_actions(page(type="webhook")) == [
        "secret_rotated",
        "deleted",
        "created",
        "created",
    ]
    assert shown_actions(page(type="user")) == ["role_changed"]
    assert shown_actions(page(type="token")) == ["created"]
    assert shown_actions(page(type="settings")) == ["job_defaults_updated"]
    assert shown_actions(page(type="job")) == ["created"]
    assert shown_actions(page(object=str(hook.id))) == ["secret_rotated", "created"]
    assert shown_actions(page(object=f"webhook:{hook.id}")) == ["secret_rotated", "created"]
    assert shown_actions(page(object=str(editor.id), type="user")) == ["role_changed"]
    assert shown_actions(page(type="token", action="revoked")) == []
    assert shown_actions(page(object=f"token:{row.id}")) == ["created"]
    assert shown_actions(page(type="nonsense")) == shown_actions(html)  # dropped, not an error
    full = client.get("/audit?type=webhook").get_data(as_text=True)
    assert '<option value="webhook" selected>Webhook</option>' in full


def test_the_page_speaks_arabic_for_the_new_actions(client, admin, editor):
    accounts.change_role(db.session, admin.user, editor.id, Role.VIEWER.value)
    sign_in(client, admin)
    html = client.get("/audit?type=user", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    assert "تغيّر الدور" in html and "نوع الكائن" in html
