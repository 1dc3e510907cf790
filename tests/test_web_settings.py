"""The settings pages: index, profile (password), users (admins) and defaults for new jobs."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import AuditEvent, JobDefaults, ScheduledJob, User
from app.services.scheduling import defaults
from app.services.users import accounts
from tests.conftest import PASSWORD, IsolatedClient
from tests.test_auth import csrf_token, post_login, signed_in

PARTIAL = {"HX-Request": "true"}
NEW_PASSWORD = "a much better one 42"


def sign_in(client, persona):
    post_login(client, persona.user.email, PASSWORD)
    return persona


def other_client(app, persona, password=PASSWORD):
    """A second browser signed in as ``persona``."""
    other = IsolatedClient(app, app.response_class, use_cookies=True)
    post_login(other, persona.user.email, password)
    assert signed_in(other)
    return other


def error_of(html: str, field: str) -> str:
    match = re.search(rf'<p id="err-{re.escape(field)}" class="field-error">(.*?)</p>', html, re.S)
    assert match, f"no error slot for {field}"
    return re.sub(r"<[^>]+>", "", match.group(1)).replace("⚠", "").strip()


def fresh(model, key):
    db.session.expire_all()
    return db.session.get(model, key)


# ---- index -----------------------------------------------------------------------------


def test_index_lists_what_an_admin_may_open(client, admin):
    sign_in(client, admin)
    html = client.get("/settings").get_data(as_text=True)
    assert 'href="/settings/profile"' in html
    assert 'href="/settings/users"' in html and 'href="/settings/defaults"' in html
    assert 'aria-current="page"' in html  # the menu marks Settings


def test_index_shows_others_only_their_profile(client, editor):
    sign_in(client, editor)
    html = client.get("/settings").get_data(as_text=True)
    assert 'href="/settings/profile"' in html
    assert "/settings/users" not in html and "/settings/defaults" not in html
    assert 'href="/settings/webhooks"' in html and 'href="/settings/tokens"' in html


def test_settings_need_a_signed_in_user(client):
    for path in ("/settings", "/settings/profile", "/settings/users", "/settings/defaults"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---- profile ---------------------------------------------------------------------------


def password_data(client, **changes):
    data = {
        "csrf_token": csrf_token(client, "/settings/profile"),
        "current_password": PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    return data | changes


def test_profile_is_for_every_signed_in_user_full_and_partial(client, viewer):
    sign_in(client, viewer)
    page = client.get("/settings/profile")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.startswith("<!doctype html>")
    assert 'action="/preferences"' in html and 'id="profile-theme"' in html
    assert "HX-Request" in page.vary
    partial = client.get("/settings/profile", headers=PARTIAL).get_data(as_text=True)
    assert partial.lstrip().startswith("<form") and 'id="password-form"' in partial


def test_password_change_ends_only_the_other_sessions(app, client, editor):
    sign_in(client, editor)
    elsewhere = other_client(app, editor)
    response = client.post("/settings/profile", data=password_data(client))
    assert response.status_code == 303
    assert signed_in(client)
    assert not signed_in(elsewhere)
    again = IsolatedClient(app, app.response_class, use_cookies=True)
    post_login(again, editor.user.email, NEW_PASSWORD)
    assert signed_in(again)


def test_password_change_with_htmx_swaps_the_form_and_toasts(client, editor):
    sign_in(client, editor)
    response = client.post("/settings/profile", data=password_data(client), headers=PARTIAL)
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith("<form")
    assert "toast" in response.headers["HX-Trigger"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"current_password": "not it at all"}, "current_password", "current password is wrong"),
        ({"confirm_password": "something else 1"}, "confirm_password", "differ"),
        ({"new_password": "short", "confirm_password": "short"}, "new_password", "at least 8"),
        ({"current_password": ""}, "current_password", "required"),
    ],
)
def test_bad_password_change_shows_field_errors(client, editor, changes, field, words):
    sign_in(client, editor)
    response = client.post("/settings/profile", data=password_data(client, **changes))
    assert response.status_code == 422
    assert words in error_of(response.get_data(as_text=True), field)
    partial = client.post(
        "/settings/profile", data=password_data(client, **changes), headers=PARTIAL
    )
    assert partial.status_code == 200 and words in error_of(partial.get_data(as_text=True), field)
    assert accounts.verify_password(fresh(User, editor.id), PASSWORD)  # nothing changed


def test_guessing_the_current_password_is_rate_limited(client, editor):
    sign_in(client, editor)
    data = password_data(client, current_password="a guess 1234")
    statuses = [client.post("/settings/profile", data=data).status_code for _ in range(11)]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429


def test_password_change_needs_csrf(client, editor):
    sign_in(client, editor)
    data = password_data(client)
    del data["csrf_token"]
    assert client.post("/settings/profile", data=data).status_code == 400


def test_profile_preferences_are_saved_by_the_one_preferences_rule(client, editor):
    sign_in(client, editor)
    data = {
        "csrf_token": csrf_token(client, "/settings/profile"),
        "next": "/settings/profile",
        "lang": "ar",
        "zone": "other",
        "zone_name": "Asia/Tokyo",
        "theme": "dark",
    }
    response = client.post("/preferences", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/settings/profile"
    assert fresh(User, editor.id).preferences == {
        "lang": "ar",
        "zone": "Asia/Tokyo",
        "theme": "dark",
    }
    html = client.get("/settings/profile").get_data(as_text=True)
    assert 'dir="rtl"' in html and 'value="Asia/Tokyo"' in html


# ---- users -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["editor", "viewer"])
def test_users_pages_are_admin_only(request, client, admin, persona):
    who = request.getfixturevalue(persona)
    sign_in(client, who)
    token = csrf_token(client, "/settings/profile")
    assert client.get("/settings/users").status_code == 403
    assert client.get(f"/settings/users/{admin.id}/disable").status_code == 403
    data = {"csrf_token": token, "confirmed": "1", "role": "viewer", "email": "x@example.com"}
    for path in ("", f"/{admin.id}/role", f"/{admin.id}/disable", f"/{admin.id}/password"):
        assert client.post("/settings/users" + path, data=data).status_code == 403
    assert fresh(User, admin.id).role == "admin" and fresh(User, admin.id).is_active_user


def test_users_page_full_and_partial(client, admin, editor):
    sign_in(client, admin)
    page = client.get("/settings/users")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.startswith("<!doctype html>")
    assert "editor@example.com" in html and "admin@example.com" in html
    assert page.headers["Cache-Control"] == "no-store"
    partial = client.get("/settings/users", headers=PARTIAL).get_data(as_text=True)
    assert partial.lstrip().startswith('<div id="users-region">')


def test_own_row_links_to_the_profile_instead_of_disable_and_reset(client, admin, editor):
    sign_in(client, admin)
    html = client.get("/settings/users").get_data(as_text=True)
    assert f"/settings/users/{editor.id}/disable" in html
    assert f"/settings/users/{editor.id}/password" in html
    assert f"/settings/users/{admin.id}/disable" not in html
    assert f"/settings/users/{admin.id}/password" not in html


def test_admin_creates_a_user_with_a_one_time_password(app, client, admin):
    sign_in(client, admin)
    data = {"csrf_token": csrf_token(client, "/settings/users"), "email": "New@Example.com"}
    response = client.post("/settings/users", data=data | {"role": "editor"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    password = re.search(r'<code class="secret"><bdi dir="ltr">([^<]+)</bdi></code>', html).group(1)
    newcomer = IsolatedClient(app, app.response_class, use_cookies=True)
    post_login(newcomer, "new@example.com", password)
    assert signed_in(newcomer)
    again = client.get("/settings/users").get_data(as_text=True)
    assert password not in again  # shown once


@pytest.mark.parametrize(
    ("email", "words"),
    [
        ("editor@example.com", "already exists"),
        ("not an address", "valid e-mail"),
        ("", "required"),
    ],
)
def test_bad_new_user_shows_field_errors(client, admin, editor, email, words):
    sign_in(client, admin)
    data = {"csrf_token": csrf_token(client, "/settings/users"), "email": email, "role": "viewer"}
    response = client.post("/settings/users", data=data)
    assert response.status_code == 422
    assert words in error_of(response.get_data(as_text=True), "email")
    partial = client.post("/settings/users", data=data, headers=PARTIAL)
    assert partial.status_code == 200 and words in error_of(partial.get_data(as_text=True), "email")


def test_admin_changes_a_role(client, admin, editor):
    sign_in(client, admin)
    data = {"csrf_token": csrf_token(client, "/settings/users"), "role": "viewer"}
    response = client.post(f"/settings/users/{editor.id}/role", data=data)
    assert response.status_code == 303
    assert fresh(User, editor.id).role == "viewer"
    partial = client.post(
        f"/settings/users/{editor.id}/role", data=data | {"role": "admin"}, headers=PARTIAL
    )
    assert partial.status_code == 200 and "toast" in partial.headers["HX-Trigger"]
    assert fresh(User, editor.id).role == "admin"


def test_an_unknown_role_is_refused_with_a_message(client, admin, editor):
    sign_in(client, admin)
    data = {"csrf_token": csrf_token(client, "/settings/users"), "role": "owner"}
    response = client.post(f"/settings/users/{editor.id}/role", data=data, headers=PARTIAL)
    assert response.status_code == 200 and "Choose a role." in response.headers["HX-Trigger"]
    assert fresh(User, editor.id).role == "editor"


def test_the_last_admin_stays_one_and_the_page_says_why(client, admin):
    sign_in(client, admin)
    token = csrf_token(client, "/settings/users")
    response = client.post(
        f"/settings/users/{admin.id}/role", data={"csrf_token": token, "role": "viewer"}
    )
    assert response.status_code == 303
    html = client.get("/settings/users").get_data(as_text=True)
    assert "last active admin" in html
    partial = client.post(
        f"/settings/users/{admin.id}/disable",
        data={"csrf_token": token, "confirmed": "1"},
        headers=PARTIAL,
    )
    assert "last active admin" in partial.headers["HX-Trigger"]
    user = fresh(User, admin.id)
    assert user.role == "admin" and user.is_active_user


def test_disable_asks_first_without_js(client, admin, editor):
    sign_in(client, admin)
    page = client.get(f"/settings/users/{editor.id}/disable")
    assert page.status_code == 200 and 'name="confirmed" value="1"' in page.get_data(as_text=True)
    unconfirmed = {"csrf_token": csrf_token(client, "/settings/users")}
    assert client.post(f"/settings/users/{editor.id}/disable", data=unconfirmed).status_code == 200
    assert fresh(User, editor.id).is_active_user


def test_disabling_ends_sessions_and_revokes_tokens_and_enable_undoes_sign_in(
    app, client, admin, editor, api_as
):
    sign_in(client, admin)
    theirs = other_client(app, editor)
    data = {"csrf_token": csrf_token(client, "/settings/users"), "confirmed": "1"}
    response = client.post(f"/settings/users/{editor.id}/disable", data=data)
    assert response.status_code == 303
    assert not signed_in(theirs)
    assert api_as(editor).get("/jobs").status_code == 401
    html = client.get("/settings/users").get_data(as_text=True)
    assert f"/settings/users/{editor.id}/enable" in html
    client.post(f"/settings/users/{editor.id}/enable", data={"csrf_token": data["csrf_token"]})
    assert fresh(User, editor.id).is_active_user
    other_client(app, editor)


def test_reset_password_shows_a_new_one_once(app, client, admin, editor):
    sign_in(client, admin)
    data = {"csrf_token": csrf_token(client, "/settings/users"), "confirmed": "1"}
    response = client.post(f"/settings/users/{editor.id}/password", data=data, headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<div id="users-region">')
    password = re.search(r'<code class="secret"><bdi dir="ltr">([^<]+)</bdi></code>', html).group(1)
    other_client(app, editor, password)
    stale = IsolatedClient(app, app.response_class, use_cookies=True)
    post_login(stale, editor.user.email, PASSWORD)
    assert not signed_in(stale)


def test_user_actions_need_csrf(client, admin, editor):
    sign_in(client, admin)
    response = client.post(f"/settings/users/{editor.id}/disable", data={"confirmed": "1"})
    assert response.status_code == 400
    assert fresh(User, editor.id).is_active_user


def test_unknown_user_is_not_found(client, admin):
    sign_in(client, admin)
    assert client.get(f"/settings/users/{'0' * 32}/disable").status_code == 404


# ---- defaults for new jobs -------------------------------------------------------------


def defaults_data(client, **changes):
    data = {
        "csrf_token": csrf_token(client, "/settings/defaults"),
        "timezone": "Europe/Paris",
        "retry_count": "4",
        "retry_backoff": "linear",
        "retry_delay_seconds": "30",
        "retry_max_delay_seconds": "900",
        "misfire_grace_seconds": "120",
        "max_instances": "2",
        "queue": "reports",
    }
    return data | changes


CHOSEN = {
    "timezone": "Europe/Paris",
    "retry_count": 4,
    "retry_backoff": "linear",
    "retry_delay_seconds": 30,
    "retry_max_delay_seconds": 900,
    "misfire_grace_seconds": 120,
    "max_instances": 2,
    "queue": "reports",
}


@pytest.mark.parametrize("persona", ["editor", "viewer"])
def test_defaults_are_admin_only(request, client, persona):
    sign_in(client, request.getfixturevalue(persona))
    assert client.get("/settings/defaults").status_code == 403
    data = {"csrf_token": csrf_token(client, "/settings/profile"), "retry_count": "9"}
    assert client.post("/settings/defaults", data=data).status_code == 403
    assert db.session.get(JobDefaults, 1) is None


def test_defaults_page_full_and_partial_show_the_built_in_values(client, admin):
    sign_in(client, admin)
    page = client.get("/settings/defaults")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.startswith("<!doctype html>")
    assert re.search(r'name="misfire_grace_seconds"[^>]*value="60"', html)
    partial = client.get("/settings/defaults", headers=PARTIAL).get_data(as_text=True)
    assert partial.lstrip().startswith('<form id="defaults-form"')


def test_saved_defaults_are_stored_and_audited(client, admin):
    sign_in(client, admin)
    response = client.post("/settings/defaults", data=defaults_data(client))
    assert response.status_code == 303
    assert defaults.current(db.session) == CHOSEN
    event = db.session.query(AuditEvent).filter_by(action=defaults.AUDIT_ACTION).one()
    assert event.changes["retry_count"] == {"from": None, "to": 4}
    partial = client.post(
        "/settings/defaults", data=defaults_data(client, queue=""), headers=PARTIAL
    )
    assert partial.status_code == 200 and "toast" in partial.headers["HX-Trigger"]
    assert defaults.current(db.session)["queue"] is None


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("retry_count", "1000", "between 0 and 100"),
        ("retry_count", "abc", "integer"),
        ("max_instances", "0", "between 1 and 100"),
        ("misfire_grace_seconds", "", "required"),
        ("timezone", "Mars/Olympus", "Unknown timezone"),
        ("queue", "Not A Queue", "queue name"),
        ("retry_backoff", "sideways", "Not a valid choice"),
    ],
)
def test_bad_defaults_show_field_errors_and_change_nothing(client, admin, field, value, words):
    sign_in(client, admin)
    response = client.post("/settings/defaults", data=defaults_data(client, **{field: value}))
    assert response.status_code == 422
    assert words in error_of(response.get_data(as_text=True), field)
    partial = client.post(
        "/settings/defaults", data=defaults_data(client, **{field: value}), headers=PARTIAL
    )
    assert partial.status_code == 200
    assert words in error_of(partial.get_data(as_text=True), field)
    assert db.session.get(JobDefaults, 1) is None


def test_defaults_need_csrf(client, admin):
    sign_in(client, admin)
    data = defaults_data(client)
    del data["csrf_token"]
    assert client.post("/settings/defaults", data=data).status_code == 400


def test_job_form_starts_with_the_defaults_and_says_so(client, admin, editor):
    defaults.save(db.session, admin.user, CHOSEN, defaults_now())
    sign_in(client, editor)
    html = client.get("/jobs/new").get_data(as_text=True)
    assert re.search(r'name="retry_count"[^>]*value="4"', html)
    assert re.search(r'name="timezone"[^>]*value="Europe/Paris"', html)
    assert re.search(r'name="queue"[^>]*value="reports"', html)
    assert re.search(r'<option selected value="linear">|<option value="linear" selected', html)
    assert "Default for new jobs: 4" in html and "Default for new jobs: Linear" in html


def test_editing_a_job_shows_its_own_values_not_the_defaults(client, admin, editor, make_job):
    job = make_job(editor, retry_count=7)
    defaults.save(db.session, admin.user, CHOSEN, defaults_now())
    sign_in(client, editor)
    html = client.get(f"/jobs/{job.id}/edit").get_data(as_text=True)
    assert re.search(r'name="retry_count"[^>]*value="7"', html)
    assert "Default for new jobs" not in html


def test_api_create_takes_the_defaults_for_omitted_fields(admin, editor, api_as):
    defaults.save(db.session, admin.user, CHOSEN, defaults_now())
    body = {"name": "Omitting", "taskFunction": "noop", "scheduleConfig": {"minutes": 5}}
    created = api_as(editor).post("/jobs", json=body)
    assert created.status_code == 201, created.get_json()
    job = fresh(ScheduledJob, _uuid(created.get_json()["id"]))
    assert {name: getattr(job, name) for name in CHOSEN} == CHOSEN


def test_api_create_keeps_what_it_sends(admin, editor, api_as):
    defaults.save(db.session, admin.user, CHOSEN, defaults_now())
    body = {
        "name": "Explicit",
        "taskFunction": "noop",
        "scheduleConfig": {"minutes": 5},
        "retryCount": 1,
        "timezone": "UTC",
        "queue": None,
    }
    created = api_as(editor).post("/jobs", json=body)
    assert created.status_code == 201, created.get_json()
    job = fresh(ScheduledJob, _uuid(created.get_json()["id"]))
    assert (job.retry_count, job.timezone, job.queue) == (1, "UTC", None)
    assert job.retry_backoff == "linear"  # still the default: not sent


def test_api_update_never_applies_the_defaults(admin, editor, api_as, make_job):
    job = make_job(editor)
    defaults.save(db.session, admin.user, CHOSEN, defaults_now())
    answer = api_as(editor).patch(f"/jobs/{job.id}", json={"description": "changed"})
    assert answer.status_code == 200
    assert fresh(ScheduledJob, job.id).retry_count == 0


def test_without_chosen_defaults_new_jobs_are_as_before(editor, make_job):
    job = make_job(editor)
    assert (job.retry_count, job.timezone, job.queue, job.max_instances) == (0, "UTC", None, 1)


def test_form_door_saves_the_prefilled_defaults(client, admin, editor):
    defaults.save(db.session, admin.user, CHOSEN, defaults_now())
    sign_in(client, editor)
    html = client.get("/jobs/new").get_data(as_text=True)
    fields = dict(re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*value="([^"]*)"', html))
    data = {name: fields[name] for name in (*defaults.NUMBERS, "queue", "timezone")}
    data |= {
        "csrf_token": fields["csrf_token"],
        "name": "From the form",
        "task_function": "noop",
        "schedule_type": "cron",
        "cron_expression": "0 6 * * *",
        "jitter_seconds": "0",
        "misfire_policy": "run_once",
        "overlap_policy": "skip",
        "timeout_seconds": "300",
        "retry_backoff": "linear",
        "retry_jitter_seconds": "0",
        "max_consecutive_failures": "0",
        "action": "save",
    }
    assert client.post("/jobs/new", data=data).status_code == 303
    job = db.session.query(ScheduledJob).filter_by(name="From the form").one()
    assert {name: getattr(job, name) for name in CHOSEN} == CHOSEN


def defaults_now():
    from app.models import utcnow

    return utcnow()


def _uuid(text):
    import uuid

    return uuid.UUID(text)
