"""``/audit``: the whole audit trail for admins, filtered by user, object and action."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.services.audit_trail import ACTIONS, OBJECT_TYPES
from app.services.scheduling.audit import Trail, TrailFilters, admin_trail
from app.web.audit import bp
from app.web.jobs.detail import changes_of
from app.web.urlstate import UrlState

PER_PAGE = 50


@dataclass(frozen=True)
class TrailState(UrlState):
    """What the URL says: the filters and the cursor of the page shown."""

    user: str = ""
    type: str = ""
    object: str = ""
    action: str = ""
    cursor: str = ""

    @property
    def filtered(self) -> bool:
        """True when any filter narrows the trail."""
        return bool(self.user or self.type or self.object or self.action)

    def filters(self) -> TrailFilters:
        """The service's filters."""
        return TrailFilters(
            user_id=uuid.UUID(self.user) if self.user else None,
            object_type=self.type or None,
            object_id=uuid.UUID(self.object) if self.object else None,
            action=self.action or None,
        )


def _uuid_text(value: str | None) -> str:
    """A clean id, or "" (an object may be written ``<type>:<id>``, e.g. ``job:<id>``)."""
    text = (value or "").strip()
    kind, colon, rest = text.partition(":")
    if colon and kind in OBJECT_TYPES:
        text = rest
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return ""


def parse_state(args: MultiDict[str, str]) -> TrailState:
    """Read the filters; a bad value is dropped, not an error."""
    action, kind = args.get("action", ""), args.get("type", "")
    return TrailState(
        user=_uuid_text(args.get("user")),
        type=kind if kind in OBJECT_TYPES else "",
        object=_uuid_text(args.get("object")),
        action=action if action in ACTIONS else "",
        cursor=args.get("cursor", "")[:500],
    )


def _schema(trail: Trail, job_id: uuid.UUID | None) -> dict[str, Any]:
    """The argument schema of the event's job's task (to mask sensitive values)."""
    return trail.jobs[job_id][1] if job_id in trail.jobs else {}


@bp.route("/audit")
@login_required  # type: ignore[untyped-decorator]
def index() -> Response:
    """The trail, newest first; htmx swaps only the list (filters, next page)."""
    given = request.args.to_dict()
    clean: dict[str, Any] = {key: value for key, value in given.items() if value}
    if clean != given and not htmx.is_partial_request():
        return redirect(url_for("audit.index", **clean))
    state = parse_state(request.args)
    trail = admin_trail(db.session, current_user, state.filters(), state.cursor or None, PER_PAGE)
    events = [
        (event, changes_of(event.changes, _schema(trail, event.job_id)))
        for event in trail.page.items
    ]
    response = htmx.render(
        "audit/index.html",
        "audit/_trail.html",
        state=state,
        trail=trail,
        events=events,
        actions=ACTIONS,
        object_types=OBJECT_TYPES,
    )
    if clean != given:  # htmx sent the empty fields too: the address bar shows the clean URL
        response.headers["HX-Push-Url"] = url_for("audit.index", **clean)
    return response
