"""The shell's choices belong to the user: saved while signed in, restored at the next sign-in."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.services.errors import Invalid
from app.services.users import accounts
from tests.conftest import PASSWORD, IsolatedClient
from tests.test_auth import csrf_token, post_login


def page_token(client) -> str:
    """The CSRF token a signed-in page carries in its meta tag."""
    html = client.get("/jobs").get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "no csrf-token meta on /jobs"
    return match.group(1)


def test_choices_follow_the_user_to_a_new_session(app, client, editor):
    post_login(client, "editor@example.com", PASSWORD)
    token = page_token(client)
    data = {"csrf_token": token, "lang": "ar", "theme": "dark"}
    client.post("/preferences", data=data | {"next": "/jobs"})
    client.post(
        "/preferences", data={"csrf_token": token, "zone": "other", "zone_name": "Asia/Tokyo"}
    )
    db.session.expire_all()
    assert editor.user.preferences == {"lang": "ar", "theme": "dark", "zone": "Asia/Tokyo"}
    # Another browser: nothing in its session, the user's choices come back at sign-in.
    other = IsolatedClient(app, app.response_class, use_cookies=True)
    post_login(other, "editor@example.com", PASSWORD)
    html = other.get("/jobs", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl"' in html
    assert 'data-theme="dark"' in html
    assert "Asia/Tokyo" in html


def test_choices_made_before_sign_in_stay_with_the_session_only(client, editor):
    client.post("/preferences", data={"csrf_token": csrf_token(client), "lang": "ar"})
    db.session.expire_all()
    assert editor.user.preferences is None


def test_only_known_preferences_are_kept(editor):
    with pytest.raises(Invalid) as error:
        accounts.save_preferences(db.session, editor.user, {"colour": "red"})
    assert "colour" in error.value.fields
