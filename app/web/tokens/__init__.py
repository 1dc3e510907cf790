"""Settings → API tokens: the signed-in user's tokens (everyone's for admins), made and revoked."""

from flask import Blueprint

bp = Blueprint("tokens", __name__)

from app.web.tokens import views  # noqa: E402,F401
