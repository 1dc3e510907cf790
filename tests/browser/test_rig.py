"""The rig's own rule for console errors: only an aborted htmx request is forgiven."""

from __future__ import annotations

from tests.browser.conftest import PageErrors


def test_an_abort_pair_is_forgiven_but_every_other_error_fails():
    errors = PageErrors(
        messages=[
            "console: htmx:afterRequest, [object HTMLDivElement] (htmx.min.js)",
            "console: htmx:sendAbort, [object HTMLDivElement] (htmx.min.js)",
            "console: htmx:afterRequest, [object HTMLDivElement] (htmx.min.js)",
            "console: htmx:sendError, [object HTMLDivElement] (htmx.min.js)",
            "pageerror: boom",
        ]
    )
    assert errors.unexpected() == [
        "console: htmx:afterRequest, [object HTMLDivElement] (htmx.min.js)",
        "console: htmx:sendError, [object HTMLDivElement] (htmx.min.js)",
        "pageerror: boom",
    ]
