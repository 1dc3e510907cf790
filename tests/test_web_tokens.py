"""Settings → API tokens: list, create (shown once), revoke (confirm); htmx and plain
forms; admins see everyone's tokens; CSRF; bad names are field errors."""

from __future__ import annotations

import json
import re

import pytest

from app.extensions import db
from app.models import ApiToken
from app.services.users import accounts
from tests.conftest import PASSWORD
from tests.test_auth import csrf_token, post_login

PARTIAL = {"HX-Request": "true"}
URL = "/settings/tokens"


def sign_in(client, persona):
    post_login(client, persona.user.email, PASSWORD)
    return persona


def form(client, **fields):
    return {"csrf_token": csrf_token(client, URL)} | fields


def token_row(name: str) -> ApiToken:
    db.session.expire_all()
    return db.session.scalar(db.select(ApiToken).where(ApiToken.name == name))


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_page_lists_only_my_tokens_with_last_used(client, editor, outsider):
    sign_in(client, editor)
    accounts.create_token(db.session, outsider.user, "their secret script")
    response = client.get(URL)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.startswith("<!doctype html>")
    assert "HX-Request" in response.vary
    assert "<bdi>tests</bdi>" in html  # the persona's own token
    assert "their secret script" not in html
    assert "outsider@example.com" not in html
    assert "Never" in html  # the persona's token was never used to call the API


def test_partial_is_only_the_region(client, editor):
    sign_in(client, editor)
    html = client.get(URL, headers=PARTIAL).get_data(as_text=True)
    assert html.lstrip().startswith('<div id="tokens"')
    assert "<html" not in html


def test_admin_sees_everyones_tokens_with_the_owner(client, admin, editor):
    sign_in(client, admin)
    html = client.get(URL).get_data(as_text=True)
    assert "editor@example.com" in html and "admin@example.com" in html
    assert ">Owner<" in html


def test_create_shows_the_token_once_and_it_works(client, editor, api_as):
    sign_in(client, editor)
    response = client.post(URL, data=form(client, name="deploy script"))
    html = response.get_data(as_text=True)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="new-token-value"[^>]*value="(alm_[^"]+)"', html).group(1)
    assert 'data-copy="new-token-value"' in html
    row = token_row("deploy script")
    assert row.user_id == editor.id and row.token_hash != token
    assert (
        api_as(None).get("/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    html = client.get(URL).get_data(as_text=True)
    assert token not in html  # never shown again
    used = re.search(rf'<tr id="token-{row.id}">(.*?)</tr>', html, re.S).group(1)
    assert "<time" in used.split("</td>")[2] and "Never" not in used  # last used: just now


def test_create_with_htmx_answers_the_region_with_the_token(client, viewer):
    sign_in(client, viewer)  # viewers manage their own (read-only) tokens too
    response = client.post(URL, data=form(client, name="reader"), headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="tokens"')
    assert "alm_" in html and "New token “reader”" in html


@pytest.mark.parametrize(("name", "message"), [("", "Give the token a name."), ("x" * 101, "")])
def test_bad_name_is_a_field_error_and_nothing_is_made(client, editor, name, message):
    sign_in(client, editor)
    response = client.post(URL, data=form(client, name=name))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'<p id="err-name" class="field-error"><span', html)
    assert message in html
    assert 'aria-invalid="true"' in html
    assert db.session.scalar(db.select(db.func.count()).select_from(ApiToken)) == 1


def test_blank_after_trim_is_refused_by_the_service_rule(client, editor):
    sign_in(client, editor)
    response = client.post(URL, data=form(client, name="   "))
    assert response.status_code == 422
    assert "token name must have 1 to 100 characters" in response.get_data(as_text=True)


def test_post_without_csrf_is_refused(client, editor):
    sign_in(client, editor)
    assert client.post(URL, data={"name": "x"}).status_code == 400
    assert token_row("x") is None


def test_revoke_without_js_goes_through_a_confirm_page(client, editor, api_as):
    sign_in(client, editor)
    row, token = accounts.create_token(db.session, editor.user, "old laptop")
    unconfirmed = client.post(f"{URL}/{row.id}/revoke", data=form(client))
    assert unconfirmed.status_code == 200
    assert "Revoke “old laptop”" in unconfirmed.get_data(as_text=True)
    assert not token_row("old laptop").is_revoked
    done = client.post(f"{URL}/{row.id}/revoke", data=form(client, confirmed="1"))
    assert done.status_code == 303 and done.headers["Location"] == URL
    assert token_row("old laptop").is_revoked
    assert "Token “old laptop” revoked." in client.get(URL).get_data(as_text=True)
    headers = {"Authorization": f"Bearer {token}"}
    assert api_as(None).get("/jobs", headers=headers).status_code == 401


def test_revoke_with_htmx_swaps_the_region_and_toasts(client, editor):
    sign_in(client, editor)
    row, _ = accounts.create_token(db.session, editor.user, "ci")
    response = client.post(
        f"{URL}/{row.id}/revoke", data=form(client, confirmed="1"), headers=PARTIAL
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="tokens"')
    assert 'data-status="revoked"' in html
    toast = json.loads(response.headers["HX-Trigger"])["toast"]
    assert toast == {"message": "Token “ci” revoked.", "level": "success"}


def test_someone_elses_token_is_not_found_but_admins_may_revoke_it(client, editor, outsider, admin):
    row, _ = accounts.create_token(db.session, outsider.user, "theirs")
    sign_in(client, editor)
    assert client.get(f"{URL}/{row.id}/revoke").status_code == 404
    assert (
        client.post(f"{URL}/{row.id}/revoke", data=form(client, confirmed="1")).status_code == 404
    )
    assert not token_row("theirs").is_revoked
    client.post("/logout", data=form(client))
    sign_in(client, admin)
    assert (
        client.post(f"{URL}/{row.id}/revoke", data=form(client, confirmed="1")).status_code == 303
    )
    assert token_row("theirs").is_revoked


def test_revoke_without_csrf_is_refused(client, editor):
    sign_in(client, editor)
    row, _ = accounts.create_token(db.session, editor.user, "keep")
    assert client.post(f"{URL}/{row.id}/revoke", data={"confirmed": "1"}).status_code == 400
    assert not token_row("keep").is_revoked


def test_menu_marks_settings_on_the_tokens_page(client, editor):
    sign_in(client, editor)
    html = client.get("/settings/tokens").get_data(as_text=True)
    assert 'href="/settings" aria-current="page"' in html
