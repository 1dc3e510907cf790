"""The failed-tasks page: the retry queue and dead runs, grouped by error, with bulk retry."""

from flask import Blueprint

bp = Blueprint("failed", __name__)

from app.web.failed import bulk, views  # noqa: E402,F401
