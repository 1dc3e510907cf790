"""The audit log page: admins only, filters by user, object and action, keyset pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import AuditEvent, utcnow
from app.services import audit_trail
from tests.test_sensitive_args import HTTP_JOB, SECRET
from tests.test_web_detail import PARTIAL, sign_in


def shown_actions(html: str) -> list[str]:
    return re.findall(r'<li class="panel" data-action="([a-z_]+)"', html)


def test_admin_reads_every_change_with_who_which_job_and_when(client, admin, editor, make_job):
    job = make_job(editor, name="Nightly report")
    db.session.add(AuditEvent(job_id=None, action="updated", changes={"x": {"from": 1, "to": 2}}))
    db.session.commit()
    sign_in(client, admin)
    response = client.get("/audit")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.startswith("<!doctype html>")
    assert shown_actions(html) == ["updated", "created"]  # newest first
    assert f'href="/jobs/{job.id}"><bdi>Nightly report</bdi>' in html
    assert "<bdi>editor@example.com</bdi>" in html
    assert "<bdi>system</bdi>" in html  # an event nobody signed for
    assert 'href="/audit"' in html and ">Audit</a>" in html  # in the menu, for admins


def test_filters_by_user_object_and_action(client, admin, editor, outsider, make_job):
    mine = make_job(editor, name="Mine")
    theirs = make_job(outsider, name="Theirs")
    audit_trail.record(db.session, admin.user, audit_trail.JOB, mine.id, "pause")
    db.session.commit()
    sign_in(client, admin)

    def actions(**query):
        response = client.get("/audit", query_string=query, headers=PARTIAL)
        assert response.status_code == 200
        return shown_actions(response.get_data(as_text=True))

    assert len(actions()) == 3
    assert actions(user=str(outsider.id)) == ["created"]
    assert actions(object=str(mine.id)) == ["pause", "created"]
    assert actions(object=f"job:{theirs.id}") == ["created"]
    assert actions(action="pause") == ["pause"]
    filtered = client.get("/audit?action=pause", headers=PARTIAL).get_data(as_text=True)
    assert '<a class="chip" href="/audit">Clear filters</a>' in filtered
    assert "Clear filters" not in client.get("/audit", headers=PARTIAL).get_data(as_text=True)
    assert actions(user=str(admin.id), object=str(theirs.id)) == []


def test_the_partial_is_only_the_list(client, admin, make_job, editor):
    make_job(editor)
    sign_in(client, admin)
    response = client.get("/audit", headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="audit-trail"') and "<html" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_keyset_pages_follow_each_other_without_gaps(client, admin, editor, make_job):
    job = make_job(editor)
    start = utcnow() + timedelta(minutes=1)
    for n in range(60):
        db.session.add(
            AuditEvent(
                job_id=job.id,
                user_id=editor.id,
                action="updated",
                changes={"n": {"from": n, "to": n + 1}},
                created_at=start + timedelta(seconds=n // 2),  # pairs share an instant
            )
        )
    db.session.commit()
    sign_in(client, admin)
    first = client.get("/audit").get_data(as_text=True)
    assert len(shown_actions(first)) == 50
    older = re.search(r'href="(/audit\?cursor=[^"]+)"[^>]*rel="next"', first)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert shown_actions(second) == ["updated"] * 10 + ["created"]
    assert 'rel="next"' not in second and ">Newest</a>" in second


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_get_the_403_page(client, request, role):
    sign_in(client, request.getfixturevalue(role))
    for headers in ({}, PARTIAL):
        response = client.get("/audit", headers=headers)
        assert response.status_code == 403
        assert "Only admins may read the audit log." in response.get_data(as_text=True)
    assert ">Audit</a>" not in client.get("/").get_data(as_text=True)


def test_bad_filters_are_dropped_and_a_bad_cursor_is_no_500(client, admin, editor, make_job):
    make_job(editor)
    sign_in(client, admin)
    for query in ("user=nope", "object=job:xyz", "action=drop+table", "user=&action="):
        response = client.get("/audit?" + query, follow_redirects=True)
        assert response.status_code == 200, query
        assert shown_actions(response.get_data(as_text=True)) == ["created"]
    response = client.get("/audit?cursor=not-a-cursor")
    assert response.status_code == 422
    assert "cursor is not valid" in response.get_data(as_text=True)


def test_write_only_values_never_reach_the_page(client, api_as, admin, editor):
    created = api_as(editor).post("/jobs", HTTP_JOB).get_json()
    changed = {"taskArgs": {"url": "https://x.example.com/", "headers": {"Authorization": "new"}}}
    api_as(editor).patch(f"/jobs/{created['id']}", changed)
    sign_in(client, admin)
    html = client.get("/audit").get_data(as_text=True)
    assert shown_actions(html) == ["updated", "created"]
    assert SECRET not in html and '"new"' not in html


def test_the_job_page_links_its_slice_to_the_audit_log(client, admin, editor, make_job):
    job = make_job(editor)
    sign_in(client, admin)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f'href="/audit?object={job.id}"' in html


def test_an_editor_job_page_has_no_audit_link(client, editor, make_job):
    job = make_job(editor)
    sign_in(client, editor)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "<strong>Created</strong>" in html and "/audit?" not in html
