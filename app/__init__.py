"""Almanac: a self-hosted job scheduler with a browser admin UI."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event, inspect
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from app.config import PROJECT_ROOT, load_config
from app.extensions import csrf, db, limiter, login_manager, migrate
from app.version import __version__

__all__ = ["__version__", "create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application: config, extensions, blueprints, CLI, errors."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("ALMANAC_INSTANCE", str(PROJECT_ROOT / "instance")),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(load_config(instance_path=Path(app.instance_path)))
    if config:
        app.config.update(config)
    _init_extensions(app)
    _register_blueprints(app)
    from app import cli, errors, security, web

    web.register(app)

    cli.register(app)
    errors.register(app)
    security.register(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if app.config.get("SYNC_TASKS_ON_START", True):
        _sync_catalog(app)
    return app


def _sync_catalog(app: Flask) -> None:
    """Keep the task catalogue in step with the code registry, once per process start.

    Before ``flask db upgrade`` (no tables yet, or an older schema) this does
    nothing; when several processes start at once and one loses the race, the
    winner's rows are the same, so the loser only logs it.
    """
    from app.services.scheduling import catalog

    with app.app_context():
        try:
            if inspect(db.engine).has_table("task_functions"):
                catalog.ensure_catalog(db.session)
                db.session.commit()
        except SQLAlchemyError as error:
            db.session.rollback()
            logging.getLogger(__name__).warning("task catalogue not synced at start: %s", error)
        finally:
            db.session.remove()


def _init_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app."""
    from app import models  # noqa: F401  (mapped before first use)

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True, render_as_batch=True
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    # A refused attempt says when to try again (Retry-After, with the X-RateLimit-* headers).
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    with app.app_context():
        event.listen(db.engine, "connect", _remember_pid)
        event.listen(db.engine, "checkout", _refuse_inherited_connection)
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)


def _remember_pid(_dbapi_connection: Any, record: Any) -> None:
    record.info["pid"] = os.getpid()


def _refuse_inherited_connection(_dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """RQ forks a work horse per run: a pooled connection must never cross a fork.

    Two processes on one socket corrupt the protocol, so a connection opened
    by another process is dropped here and a fresh one is made (SQLAlchemy's
    documented pattern for pools and multiprocessing). The pool's pre-ping
    (where it is on) runs before this hook, so the worker also empties the
    pool in every horse (``app.engine.workers``); this stays as the guard for
    any other fork. The worker's own idle ping (``app.engine.pings``) is
    registered later, so it runs after this guard.
    """
    if record.info.get("pid") != os.getpid():
        record.dbapi_connection = proxy.dbapi_connection = None
        raise DisconnectionError(
            f"connection from pid {record.info.get('pid')} used in pid {os.getpid()}"
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the web, worker and scheduler read while one writes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _register_blueprints(app: Flask) -> None:
    """Attach every blueprint."""
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.health import bp as health_bp
    from app.metrics import bp as metrics_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
