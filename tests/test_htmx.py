"""app.htmx: page or partial, Vary, no-store for live regions, HX-Trigger toasts."""

from __future__ import annotations

import json

import pytest
from flask import Response

from app import htmx


@pytest.mark.parametrize(
    ("headers", "partial"),
    [
        ({}, False),
        ({"HX-Request": "true"}, True),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, False),
        ({"HX-Request": "false"}, False),
    ],
)
def test_partial_only_for_an_htmx_request_that_is_not_a_history_restore(app, headers, partial):
    with app.test_request_context("/", headers=headers):
        assert htmx.is_partial_request() is partial


def test_render_picks_the_partial_and_varies_by_hx_request(app):
    with app.test_request_context("/", headers={"HX-Request": "true"}):
        response = htmx.render("errors/error.html", "_macros/ui.html")
    assert "<html" not in response.get_data(as_text=True)
    assert "HX-Request" in response.vary
    assert "Cache-Control" not in response.headers


def test_render_gives_the_whole_page_without_htmx(app):
    with app.test_request_context("/"):
        page = htmx.render("errors/error.html", "_macros/ui.html", code=418, title="t", message="m")
    assert "<html" in page.get_data(as_text=True)
    assert "HX-Request" in page.vary


def test_live_regions_are_never_stored(app):
    with app.test_request_context("/", headers={"HX-Request": "true"}):
        response = htmx.render("errors/error.html", "_macros/ui.html", live=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_toast_is_an_hx_trigger_event_with_message_and_level():
    response = htmx.add_toast(Response(), "Job saved.", "success")
    assert json.loads(response.headers["HX-Trigger"]) == {
        "toast": {"message": "Job saved.", "level": "success"}
    }


def test_toast_keeps_events_already_set():
    response = Response(headers={"HX-Trigger": json.dumps({"jobSaved": {"id": 1}})})
    events = json.loads(htmx.add_toast(response, "ok").headers["HX-Trigger"])
    assert events["jobSaved"] == {"id": 1}
    assert events["toast"]["message"] == "ok"
    bare = htmx.add_toast(Response(headers={"HX-Trigger": "jobSaved, rowsChanged"}), "ok")
    assert set(json.loads(bare.headers["HX-Trigger"])) == {"jobSaved", "rowsChanged", "toast"}


def test_toast_in_arabic_is_sent_as_ascii_json():
    header = htmx.add_toast(Response(), "تم الحفظ.").headers["HX-Trigger"]
    header.encode("latin-1")  # a header value must be Latin-1 on the wire
    assert json.loads(header)["toast"]["message"] == "تم الحفظ."
