"""Sign-in, sign-out, rate limiting, password and token storage, API auth.

CSRF stays enabled here (as in production): every form POST first fetches the
page and sends back its ``csrf_token``.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app.extensions import db
from app.models import ApiToken, User
from app.services.users import accounts
from tests.conftest import PASSWORD, IsolatedClient

_CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
JOB_BODY = {
    "name": "Session job",
    "taskFunction": "noop",
    "jobType": "interval",
    "scheduleConfig": {"minutes": 5},
}


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on ``path``."""
    page = client.get(path)
    match = _CSRF_INPUT.search(page.get_data(as_text=True))
    assert match, f"no csrf_token input on {path}"
    return match.group(1)


def post_login(client: FlaskClient, email: str, password: str, **extra: str):
    """Submit the login form the way a browser does (token from the page)."""
    data = {"csrf_token": csrf_token(client), "email": email, "password": password} | extra
    return client.post("/login", data=data)


def signed_in(client: FlaskClient) -> bool:
    """True when the home page is served rather than a redirect to the login."""
    return client.get("/").status_code == 200


# --- login page -----------------------------------------------------------------------------


def test_login_page_renders_form_with_csrf_token(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<form method="post"' in html
    assert 'name="email"' in html
    assert 'name="password"' in html
    assert _CSRF_INPUT.search(html)


def test_login_page_escapes_next_parameter(client):
    response = client.get("/login", query_string={"next": '"><script>alert(1)</script>'})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_login_form_escapes_submitted_email(client):
    response = post_login(client, "<b>x</b>@example.com", "whatever-password")
    html = response.get_data(as_text=True)
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;@example.com" in html


def test_home_redirects_anonymous_user_to_login_with_next(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


# --- signing in -----------------------------------------------------------------------------


def test_wrong_password_shows_error_and_does_not_sign_in(client, editor):
    response = post_login(client, "editor@example.com", "not the password")
    assert response.status_code == 200
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert not signed_in(client)


def test_unknown_email_shows_the_same_error(client, editor):
    response = post_login(client, "nobody@example.com", PASSWORD)
    assert response.status_code == 200
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert not signed_in(client)


def test_correct_login_redirects_home_showing_email(client, editor):
    response = post_login(client, "editor@example.com", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "editor@example.com" in home.get_data(as_text=True)


def test_login_email_is_case_and_space_insensitive(client, editor):
    response = post_login(client, "  Editor@Example.COM ", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_login_records_last_login_time(client, editor):
    assert editor.user.last_login_at is None
    post_login(client, "editor@example.com", PASSWORD)
    db.session.expire_all()
    assert db.session.get(User, editor.id).last_login_at is not None


def test_login_post_without_csrf_token_is_rejected(client, editor):
    response = client.post("/login", data={"email": "editor@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert not signed_in(client)


def test_login_post_with_forged_csrf_token_is_rejected(client, editor):
    csrf_token(client)  # a session exists, but the token sent is not its token
    data = {"csrf_token": "forged", "email": "editor@example.com", "password": PASSWORD}
    assert client.post("/login", data=data).status_code == 400
    assert not signed_in(client)


def test_inactive_user_cannot_log_in(client, editor):
    editor.user.is_active_user = False
    db.session.commit()
    response = post_login(client, "editor@example.com", PASSWORD)
    assert response.status_code == 200
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert not signed_in(client)


def test_deactivating_a_user_ends_their_existing_session(client, editor):
    post_login(client, "editor@example.com", PASSWORD)
    assert signed_in(client)
    editor.user.is_active_user = False
    db.session.commit()
    assert not signed_in(client)
    assert client.get("/api/v1/jobs").status_code == 401


def test_signed_in_user_visiting_login_goes_home(client, editor):
    post_login(client, "editor@example.com", PASSWORD)
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# --- the next parameter ---------------------------------------------------------------------


def test_next_relative_path_is_followed_after_login(client, editor):
    response = post_login(client, "editor@example.com", PASSWORD, next="/jobs?status=failed")
    assert response.status_code == 302
    assert response.headers["Location"] == "/jobs?status=failed"


def test_next_from_query_string_is_carried_by_the_form(client, editor):
    html = client.get("/login?next=%2Fcalendar").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="next"[^>]*value="/calendar"', html)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "http://evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "/\t/evil.com",
        "/\n/evil.com",
        " //evil.com",
        "javascript:alert(1)",
        "evil.com",
    ],
)
def test_next_to_another_site_is_ignored(client, editor, target):
    response = post_login(client, "editor@example.com", PASSWORD, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# --- signing out ----------------------------------------------------------------------------


def test_logout_by_get_is_not_allowed(client, editor):
    post_login(client, "editor@example.com", PASSWORD)
    assert client.get("/logout").status_code == 405
    assert signed_in(client)


def test_logout_without_csrf_token_is_rejected(client, editor):
    post_login(client, "editor@example.com", PASSWORD)
    assert client.post("/logout").status_code == 400
    assert signed_in(client)


def test_logout_with_csrf_token_signs_out(client, editor):
    post_login(client, "editor@example.com", PASSWORD)
    token = csrf_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert not signed_in(client)


# --- rate limiting --------------------------------------------------------------------------


def test_eleventh_login_attempt_within_a_minute_is_rate_limited(client, editor):
    for attempt in range(10):
        response = post_login(client, "editor@example.com", "wrong password")
        assert response.status_code == 200, f"attempt {attempt + 1} was refused"
    response = post_login(client, "editor@example.com", PASSWORD)
    assert response.status_code == 429
    assert not signed_in(client)
    # The page itself stays reachable; only attempts are limited.
    assert client.get("/login").status_code == 200


def test_login_rate_limit_is_per_client_address(app, client, editor):
    for _ in range(10):
        post_login(client, "editor@example.com", "wrong password")
    assert post_login(client, "editor@example.com", PASSWORD).status_code == 429
    other = IsolatedClient(app, app.response_class, use_cookies=True)
    other.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert post_login(other, "editor@example.com", PASSWORD).status_code == 302


# --- what is stored -------------------------------------------------------------------------


def test_password_is_stored_as_argon2id_hash(editor):
    stored = db.session.get(User, editor.id).password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert accounts.verify_password(editor.user, PASSWORD)
    assert not accounts.verify_password(editor.user, PASSWORD + "x")


def test_an_unknown_user_costs_a_full_verification_and_never_matches(app):
    from argon2 import PasswordHasher

    # The stand-in hash has the parameters of Almanac's hasher (argon2's defaults; the
    # suite swaps in a cheap one), so it takes as long as a real user's.
    assert not PasswordHasher().check_needs_rehash(accounts._DUMMY_HASH)
    assert not accounts.verify_password(None, PASSWORD)


def test_equal_passwords_get_different_hashes(app):
    first = accounts.create_user(db.session, "a@example.com", PASSWORD, "viewer")
    second = accounts.create_user(db.session, "b@example.com", PASSWORD, "viewer")
    assert first.password_hash != second.password_hash


def test_authenticate_upgrades_an_outdated_hash(app, editor):
    from argon2 import PasswordHasher

    editor.user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    db.session.commit()
    assert accounts.authenticate(db.session, "editor@example.com", PASSWORD) is not None
    assert not accounts._hasher.check_needs_rehash(editor.user.password_hash)


def test_api_token_is_stored_only_as_its_sha256(editor):
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == editor.id))
    assert row.token_hash == hashlib.sha256(editor.token.encode()).hexdigest()
    stored_rows = db.session.execute(text("SELECT * FROM api_tokens")).all()
    assert stored_rows
    for stored in stored_rows:
        assert all(editor.token not in str(value) for value in stored)


def test_using_a_token_records_last_used_at(api_as, editor):
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == editor.id))
    assert row.last_used_at is None
    assert api_as(editor).get("/jobs").status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None


def test_revoked_token_is_refused(api_as, editor):
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == editor.id))
    assert accounts.revoke_token(db.session, row.id)
    db.session.commit()
    response = api_as(editor).get("/jobs")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_token_of_inactive_user_is_refused(api_as, editor):
    editor.user.is_active_user = False
    db.session.commit()
    assert api_as(editor).get("/jobs").status_code == 401


def test_unknown_and_malformed_tokens_are_refused(client, editor):
    for header in ("Bearer alm_not-a-real-token", "Basic abc", "Bearer ", editor.token):
        response = client.get("/api/v1/jobs", headers={"Authorization": header})
        assert response.status_code == 401, header


def test_api_without_credentials_is_refused(client):
    assert client.get("/api/v1/jobs").status_code == 401


# --- the API through the UI session ---------------------------------------------------------


def test_session_cookie_authenticates_api_reads(client, editor):
    assert post_login(client, "editor@example.com", PASSWORD).status_code == 302
    response = client.get("/api/v1/jobs")
    assert response.status_code == 200
    assert response.json["total"] == 0


def test_session_api_write_without_csrf_header_is_rejected(client, editor):
    assert post_login(client, "editor@example.com", PASSWORD).status_code == 302
    response = client.post("/api/v1/jobs", json=JOB_BODY)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    assert client.get("/api/v1/jobs").json["total"] == 0


def test_session_api_write_with_csrf_header_is_accepted(client, editor):
    assert post_login(client, "editor@example.com", PASSWORD).status_code == 302
    token = csrf_token(client, "/")
    response = client.post("/api/v1/jobs", json=JOB_BODY, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.json
    invalid = client.post("/api/v1/jobs", json={"name": ""}, headers={"X-CSRFToken": token})
    assert invalid.status_code == 422


def test_bearer_api_write_needs_no_csrf_token(api_as, editor):
    assert api_as(editor).post("/jobs", JOB_BODY).status_code == 201
