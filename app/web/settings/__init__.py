"""The settings pages: the index, the profile, users (admins) and defaults for new jobs (admins)."""

from flask import Blueprint

bp = Blueprint("settings", __name__)

from app.web.settings import defaults, profile, users, views  # noqa: E402,F401
