"""``/settings``: the list of settings sections this user may open."""

from __future__ import annotations

from flask import Response, make_response, render_template
from flask_login import login_required

from app.web.settings import bp


@bp.route("/settings")
@login_required  # type: ignore[untyped-decorator]
def index() -> Response:
    """The sections: profile for everyone; users and defaults for admins; webhooks and tokens
    once those pages exist (the template asks ``has_endpoint``)."""
    return make_response(render_template("settings/index.html"))
