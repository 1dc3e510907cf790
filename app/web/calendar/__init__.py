"""The calendar pages: month, week, day and list views of runs, occurrences and gaps."""

from flask import Blueprint

bp = Blueprint("calendar", __name__)

from app.web.calendar import feed, views  # noqa: E402,F401
