"""The jobs pages: the table with its actions (table), and more views joining the same blueprint."""

from flask import Blueprint

bp = Blueprint("jobs", __name__)

from app.web.jobs import actions, bulk, detail, editor, helpers, table  # noqa: E402,F401
