"""Security headers on pages and JSON, and a CSRF token that lasts as long as the session."""

from __future__ import annotations

import time

import pytest

from app.security import CONTENT_SECURITY_POLICY
from tests.conftest import PASSWORD
from tests.test_auth import csrf_token, post_login, signed_in

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def assert_security_headers(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name


def test_policy_allows_only_own_scripts_and_styles():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", ["/login", "/no-such-page", "/static/css/app.css"])
def test_html_and_static_responses_carry_the_headers(client, path):
    assert_security_headers(client.get(path))


def test_json_responses_and_json_errors_carry_the_headers(client, api_as, editor):
    assert_security_headers(api_as(editor).get("/jobs"))
    refused = api_as(None).get("/jobs")
    assert refused.status_code == 401
    assert_security_headers(refused)


def test_signed_in_page_carries_the_headers(client, editor):
    post_login(client, "editor@example.com", PASSWORD)
    assert_security_headers(client.get("/"))


def test_no_hsts_without_secure_cookies(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_hsts_when_secure_cookies_are_on(app, client):
    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        response = client.get("/login")
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_csrf_token_has_no_time_limit_of_its_own(app):
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None


def test_csrf_token_from_a_page_left_open_for_days_still_works(client, editor, monkeypatch):
    token = csrf_token(client)
    later = time.time() + 10 * 24 * 3600
    monkeypatch.setattr(time, "time", lambda: later)  # itsdangerous reads time.time()
    data = {"csrf_token": token, "email": "editor@example.com", "password": PASSWORD}
    assert client.post("/login", data=data).status_code == 302
    assert signed_in(client)
