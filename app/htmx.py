"""htmx: one view answers a whole page or only its changed region.

The region is a partial template (``templates/<blueprint>/_<fragment>.html``)
that the page ``{% include %}``s, so each region exists once (STYLE 9); the
view names both and :func:`render` picks one.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Response, make_response, render_template, request

TOAST_EVENT = "toast"


def is_partial_request() -> bool:
    """True for an htmx request that swaps a region.

    A history restore (Back after a cache miss) also carries ``HX-Request`` but
    replaces the whole body, so it gets the full page.
    """
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(page: str, partial: str, *, live: bool = False, **context: Any) -> Response:
    """Render ``page``, or ``partial`` for htmx; the answer varies by ``HX-Request``.

    ``live`` marks a region that is polled: never stored by a cache, so a
    poll always shows the current state.
    """
    template = partial if is_partial_request() else page
    response = make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    if live:
        response.headers["Cache-Control"] = "no-store"
    return response


def add_toast(response: Response, message: str, level: str = "info") -> Response:
    """Ask the page to show a toast (``HX-Trigger: {"toast": …}``), keeping other events."""
    events: dict[str, Any] = {}
    existing = response.headers.get("HX-Trigger")
    if existing:
        try:
            parsed = json.loads(existing)
            events = parsed if isinstance(parsed, dict) else {}
        except ValueError:  # a bare event name (or a comma list of names)
            events = {name.strip(): None for name in existing.split(",") if name.strip()}
    events[TOAST_EVENT] = {"message": message, "level": level}
    response.headers["HX-Trigger"] = json.dumps(events)  # ASCII: header values must be Latin-1
    return response


# A poller names at most this many rows (a page never shows more).
MAX_POLLED = 100


def polled_ids(raw: str) -> list[uuid.UUID]:
    """The row ids a poller sent (``ids=a,b,c``); malformed ones are skipped, not an error."""
    ids = []
    for part in raw.split(",")[:MAX_POLLED]:
        try:
            ids.append(uuid.UUID(part))
        except ValueError:
            continue
    return ids
