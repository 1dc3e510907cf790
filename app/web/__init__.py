"""Browser pages: the shell's preferences and the jobs table (more pages join here)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Bind Babel and attach the web blueprints."""
    from app.web import calendar, i18n, jobs, preferences, runs

    i18n.register(app)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(preferences.bp)
    app.register_blueprint(runs.bp)
    app.register_blueprint(calendar.bp)
