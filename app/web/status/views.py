"""``/status`` (the page, or its polled region) and ``/status/panel`` (beside the jobs table)."""

from __future__ import annotations

from flask import current_app, redirect, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import htmx
from app.extensions import db
from app.models import utcnow
from app.queues import redis_connection
from app.services.status_health import StatusPage, page_status
from app.web.status import bp

POLL_SECONDS = 10


def _snapshot() -> StatusPage:
    return page_status(
        db.session,
        current_user,
        utcnow(),
        redis_connection(),
        float(current_app.config["HEARTBEAT_SECONDS"]),
    )


@bp.route("/status")
@login_required  # type: ignore[untyped-decorator]
def index() -> Response:
    """The whole cluster as the user may see it; htmx polls only the live region."""
    return htmx.render(
        "status/index.html", "status/_live.html", live=True, s=_snapshot(), now=utcnow()
    )


@bp.route("/status/panel")
@login_required  # type: ignore[untyped-decorator]
def panel() -> Response:
    """The small panel the jobs page loads beside its table (the page itself without htmx)."""
    if not htmx.is_partial_request():
        return redirect(url_for("status.index"))
    return htmx.render(
        "status/index.html", "status/_panel.html", live=True, s=_snapshot(), now=utcnow()
    )
