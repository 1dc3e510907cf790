"""Liveness and readiness probes (the status page joins them later)."""

from flask import Blueprint

bp = Blueprint("status", __name__)

from app.status import views  # noqa: E402,F401
