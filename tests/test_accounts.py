"""Managing users and tokens: the services the CLI (and the settings pages to come) call."""

from __future__ import annotations

import uuid

import pytest
from click.testing import Result

from app.extensions import db
from app.models import User
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.users import accounts
from tests.conftest import PASSWORD


def reread(user: User) -> User:
    db.session.expire_all()
    row = db.session.get(User, user.id)
    assert row is not None
    return row


def test_admins_add_users_and_others_may_not(admin, editor):
    created = accounts.create_user(db.session, "new@example.com", PASSWORD, "viewer", by=admin.user)
    assert reread(created).role == "viewer"
    with pytest.raises(Forbidden):
        accounts.create_user(db.session, "b@example.com", PASSWORD, "viewer", by=editor.user)
    with pytest.raises(Invalid) as refused:
        accounts.create_user(db.session, "bad", PASSWORD, "viewer", by=admin.user)
    assert set(refused.value.fields) == {"email"}


def test_role_changes_are_for_admins_and_keep_the_last_admin(admin, editor):
    assert accounts.change_role(db.session, admin.user, editor.id, "viewer").role == "viewer"
    with pytest.raises(Forbidden):
        accounts.change_role(db.session, editor.user, editor.id, "admin")
    with pytest.raises(Conflict):
        accounts.change_role(db.session, admin.user, admin.id, "editor")
    with pytest.raises(Invalid) as refused:
        accounts.change_role(db.session, admin.user, editor.id, "root")
    assert set(refused.value.fields) == {"role"}
    assert reread(admin.user).role == "admin"


def test_a_disabled_user_cannot_use_their_token(api_as, admin, editor):
    accounts.set_active(db.session, admin.user, editor.id, False)
    assert api_as(editor).get("/jobs").status_code == 401
    # Disabling revoked the tokens: enabling the user again does not bring them back.
    accounts.set_active(db.session, admin.user, editor.id, True)
    assert api_as(editor).get("/jobs").status_code == 401
    _row, token = accounts.create_token(db.session, editor.user, "fresh")
    fresh = {"Authorization": f"Bearer {token}"}
    assert api_as(editor).get("/jobs", headers=fresh).status_code == 200
    with pytest.raises(Conflict):
        accounts.set_active(db.session, admin.user, admin.id, False)


def test_password_reset_for_oneself_or_by_an_admin(admin, editor, viewer):
    accounts.reset_password(db.session, editor.user, editor.id, "a brand new one")
    assert accounts.authenticate(db.session, "editor@example.com", "a brand new one")
    accounts.reset_password(db.session, admin.user, editor.id, "set by the admin")
    assert accounts.authenticate(db.session, "editor@example.com", "set by the admin")
    with pytest.raises(NotFound):
        accounts.reset_password(db.session, viewer.user, editor.id, "not yours to set")
    with pytest.raises(Invalid) as refused:
        accounts.reset_password(db.session, editor.user, editor.id, "short")
    assert set(refused.value.fields) == {"password"}


def test_tokens_are_listed_and_revoked_by_their_owner_or_an_admin(api_as, admin, editor, viewer):
    row, token = accounts.create_token(db.session, editor.user, "ci", by=editor.user)
    with pytest.raises(Forbidden):
        accounts.create_token(db.session, editor.user, "sneaky", by=viewer.user)
    names = [t.name for t in accounts.list_tokens(db.session, editor.user, editor.id)]
    assert names == ["ci", "tests"]
    with pytest.raises(NotFound):
        accounts.list_tokens(db.session, viewer.user, editor.id)
    assert not accounts.revoke_token(db.session, row.id, by=viewer.user)
    assert accounts.revoke_token(db.session, row.id, by=admin.user)
    assert not accounts.revoke_token(db.session, uuid.uuid4(), by=admin.user)
    headers = {"Authorization": f"Bearer {token}"}
    assert api_as(None).get("/jobs", headers=headers).status_code == 401


# --- the operator's commands --------------------------------------------------------------------


def flask(runner, line: str) -> Result:
    return runner.invoke(args=line.split())


def test_cli_manages_roles_activity_passwords_and_tokens(runner, admin, editor):
    assert flask(runner, "set-role --email editor@example.com --role viewer").exit_code == 0
    assert reread(editor.user).role == "viewer"
    assert flask(runner, "disable-user --email editor@example.com").exit_code == 0
    assert not reread(editor.user).is_active_user
    assert flask(runner, "enable-user --email editor@example.com").exit_code == 0
    result = flask(runner, "reset-password --email editor@example.com --password renewed-pw")
    assert result.exit_code == 0, result.output
    assert accounts.authenticate(db.session, "editor@example.com", "renewed-pw")
    # Disabling the user revoked their token.
    listed = flask(runner, "list-tokens --email editor@example.com")
    assert listed.exit_code == 0 and "revoked tests" in listed.output
    token_id = listed.output.split()[0]
    assert flask(runner, f"revoke-token {token_id}").exit_code == 0


def test_cli_refuses_to_demote_the_last_admin_in_one_line(runner, admin):
    result = flask(runner, "set-role --email admin@example.com --role viewer")
    assert result.exit_code != 0 and "last active admin" in result.output
    assert "Traceback" not in result.output
    missing = flask(runner, f"revoke-token {uuid.uuid4()}")
    assert missing.exit_code != 0 and "no token" in missing.output
