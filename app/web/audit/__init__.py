"""The audit log page (admins): who changed what, filtered and keyset-paged."""

from flask import Blueprint

bp = Blueprint("audit", __name__)

from app.web.audit import views  # noqa: E402,F401
