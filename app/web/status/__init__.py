"""The status page and the jobs page's status panel: the cluster as an operator needs it."""

from flask import Blueprint

bp = Blueprint("status", __name__)

from app.web.status import views  # noqa: E402,F401
