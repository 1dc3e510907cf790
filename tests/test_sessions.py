"""Sessions end server-side: a cookie saved before sign-out (or a password, role or
activity change) no longer opens the pages or the API."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import User
from app.services.users import accounts
from tests.conftest import PASSWORD
from tests.test_auth import csrf_token, post_login, signed_in


def saved_session(client):
    """Sign the editor in and return the session cookie's value, as a thief would copy it."""
    assert post_login(client, "editor@example.com", PASSWORD).status_code == 302
    return client.get_cookie("session").value


def opens(client, cookie):
    """True when ``cookie`` still opens the home page and the API."""
    client.set_cookie("session", cookie)
    page = client.get("/")
    api = client.get("/api/v1/jobs")
    return page.status_code == 200 and api.status_code == 200


def test_a_cookie_saved_before_sign_out_no_longer_opens_anything(client, editor):
    cookie = saved_session(client)
    assert opens(client, cookie)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert not signed_in(client)
    assert not opens(client, cookie)
    client.set_cookie("session", cookie)
    assert client.get("/api/v1/jobs").status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        lambda admin, user: accounts.reset_password(db.session, admin, user.id, "another pw 123"),
        lambda admin, user: accounts.change_role(db.session, admin, user.id, "viewer"),
        lambda admin, user: accounts.set_active(db.session, admin, user.id, False),
    ],
    ids=["password", "role", "disable"],
)
def test_an_account_change_ends_the_users_sessions(client, admin, editor, change):
    cookie = saved_session(client)
    change(admin.user, db.session.get(User, editor.id))
    assert not opens(client, cookie)


def test_signing_in_again_works_after_sessions_were_ended(client, admin, editor):
    saved_session(client)
    accounts.change_role(db.session, admin.user, editor.id, "viewer")
    assert not signed_in(client)
    assert post_login(client, "editor@example.com", PASSWORD).status_code == 302
    assert signed_in(client)


def test_an_unchanged_role_keeps_the_session(client, admin, editor):
    cookie = saved_session(client)
    accounts.change_role(db.session, admin.user, editor.id, "editor")
    assert opens(client, cookie)
