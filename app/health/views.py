"""Health probes for process managers and load balancers."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.health import bp
from app.queues import redis_connection


@bp.route("/healthz")
def healthz() -> Any:
    """Liveness: the process answers."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> Any:
    """Readiness: the database and Redis both answer."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(status="ok" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    return response


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        db.session.rollback()
        return f"error: {type(error).__name__}"
    return "ok"


def _check_redis() -> str:
    try:
        redis_connection().ping()
    except (RedisError, OSError) as error:
        return f"error: {type(error).__name__}"
    return "ok"
