"""Settings → Webhooks: list, create, edit, the signing secret, the delivery log, ping, replay."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__)

from app.web.webhooks import actions, views  # noqa: E402,F401
