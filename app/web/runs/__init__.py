"""The run pages: every run (``/runs``), and one execution with its times, attempts, log and
webhook deliveries."""

from flask import Blueprint

bp = Blueprint("runs", __name__)

from app.web.runs import history, views  # noqa: E402,F401
