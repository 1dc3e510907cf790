"""Browser pages: the shell's preferences, the jobs table and the pages around it."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Bind Babel and attach the web blueprints."""
    from app.web import (
        audit,
        failed,
        i18n,
        jobs,
        preferences,
        runs,
        settings,
        status,
        tokens,
        webhooks,
    )

    i18n.register(app)
    for module in (jobs, preferences, runs, failed, status, audit, settings, tokens, webhooks):
        app.register_blueprint(module.bp)
