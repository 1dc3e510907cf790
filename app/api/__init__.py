"""The JSON API under /api/v1."""

from flask import Blueprint

from app.api.spec import ApiSpec

bp = Blueprint("api", __name__, url_prefix="/api/v1")
spec = ApiSpec(bp)

from app.api import calendar, common, executions, jobs, meta, retries, webhooks  # noqa: E402,F401
