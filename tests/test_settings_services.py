"""The service functions the settings pages added: token lists by role, several webhooks at
once (all or none), secret rotation, and which jobs a webhook may be attached to."""

from __future__ import annotations

import uuid

import pytest

from app.extensions import db
from app.models import Webhook, utcnow
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.events import webhooks
from app.services.users import accounts

FIELDS = {"url": "https://hooks.example.com/x", "phase": "failed"}


def test_tokens_are_listed_by_whose_they_are(admin, editor, viewer):
    assert {t.user_id for t in accounts.visible_tokens(db.session, editor.user)} == {editor.id}
    assert {t.user_id for t in accounts.visible_tokens(db.session, admin.user)} == {
        admin.id, editor.id, viewer.id,
    }  # fmt: skip


def test_a_token_is_found_only_by_its_owner_or_an_admin(admin, editor, outsider):
    [theirs] = accounts.visible_tokens(db.session, outsider.user)
    with pytest.raises(NotFound):
        accounts.get_token(db.session, editor.user, theirs.id)
    assert accounts.get_token(db.session, admin.user, theirs.id) is theirs


def test_several_jobs_get_one_webhook_each_with_one_secret(editor, make_job):
    first, second = make_job(editor, name="A"), make_job(editor, name="B")
    rows = webhooks.create_webhooks(
        db.session, editor.user, FIELDS, [first.id, second.id, first.id], utcnow()
    )
    assert [row.job_id for row in rows] == [first.id, second.id]
    assert rows[0].secret == rows[1].secret


def test_one_refused_job_stores_none_of_them(editor, outsider, make_job):
    mine, theirs = make_job(editor, name="Mine"), make_job(outsider, name="Theirs")
    with pytest.raises(Invalid) as refused:
        webhooks.create_webhooks(db.session, editor.user, FIELDS, [mine.id, theirs.id], utcnow())
    db.session.rollback()
    assert "job_id" in refused.value.fields
    assert db.session.scalars(db.select(Webhook)).all() == []


def test_every_job_is_for_admins_only(admin, editor, viewer):
    assert webhooks.may_cover_every_job(db.session, admin.user)
    assert not webhooks.may_cover_every_job(db.session, editor.user)
    assert not webhooks.may_cover_every_job(db.session, viewer.user)
    with pytest.raises(Forbidden):
        webhooks.create_webhooks(db.session, editor.user, FIELDS, [None], utcnow())


def test_rotating_changes_the_secret(editor, make_job):
    row = webhooks.create_webhook(
        db.session, editor.user, FIELDS | {"job_id": make_job(editor).id}, utcnow()
    )
    old = row.secret
    assert webhooks.rotate_secret(db.session, editor.user, row, utcnow()).secret != old


def test_job_choices_are_the_jobs_one_may_change(admin, editor, outsider, viewer, make_job):
    mine = make_job(editor, name="Mine")
    make_job(outsider, name="Theirs")
    system = make_job(admin, name="Cleanup", task_function="cleanup_history",
                      task_args={"older_than_days": 30})  # fmt: skip
    assert [job.id for job in webhooks.job_choices(db.session, editor.user, 10)] == [mine.id]
    assert webhooks.job_choices(db.session, viewer.user, 10) == []
    admin_ids = {job.id for job in webhooks.job_choices(db.session, admin.user, 10)}
    assert {mine.id, system.id} <= admin_ids and len(admin_ids) == 3
    assert len(webhooks.job_choices(db.session, admin.user, 2)) == 2
    assert webhooks.job_names(db.session, {mine.id, uuid.uuid4()}) == {mine.id: "Mine"}
