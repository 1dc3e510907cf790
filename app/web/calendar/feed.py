"""The ICS subscription: create or revoke the feed URL (POST-redirect-GET), and the file itself.

CSRF: both POSTs are checked by the app-wide CSRFProtect before they get here.
"""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.extensions import db
from app.models import ScheduledJob, utcnow
from app.services.calendar import subscription
from app.web.calendar import bp

# The new feed URL is shown once, on the page the POST redirects to, then forgotten.
NEW_FEED_KEY = "calendar_feed_token"


@bp.route("/calendar/feed", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def create_feed() -> Response:
    """Make a new subscription URL (the old one stops working)."""
    session[NEW_FEED_KEY] = subscription.create_feed(db.session, current_user, utcnow())
    return redirect(url_for("calendar.index", _anchor="calendar-feed"), code=303)


@bp.route("/calendar/feed/revoke", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def revoke_feed() -> Response:
    """Turn the subscription URL off."""
    session.pop(NEW_FEED_KEY, None)
    if subscription.revoke_feed(db.session, current_user, utcnow()):
        flash(_("The calendar subscription URL no longer works."), "info")
    return redirect(url_for("calendar.index", _anchor="calendar-feed"), code=303)


@bp.route("/calendar/feed/<token>.ics")
def ics(token: str) -> Response:
    """The subscribed calendar (no sign-in: the token in the URL is the key)."""
    body = subscription.ics_for_token(db.session, token[:100], utcnow(), _job_url)
    if body is None:
        abort(404)
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="almanac.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def _job_url(job: ScheduledJob) -> str:
    return url_for("jobs.detail", job_id=job.id, _external=True)


def feed_url(token: str) -> str:
    """The subscription URL of a token (absolute: it is pasted into another app)."""
    return url_for("calendar.ics", token=token, _external=True)
