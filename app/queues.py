"""Redis and RQ accessors, read from the current app's config (no module-level clients)."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from app.services.ledger.recurrence import Recurrence


def redis_connection() -> Redis:
    """The app's Redis client, created once per app."""
    client = current_app.extensions.get("almanac_redis")
    if client is None:
        client = Redis.from_url(
            current_app.config["REDIS_URL"], socket_timeout=5, socket_connect_timeout=2
        )
        current_app.extensions["almanac_redis"] = client
    return client


def rq_queue(name: str) -> Queue:
    """An RQ queue using the JSON serializer (never pickle)."""
    return Queue(name, connection=redis_connection(), serializer=JSONSerializer)


def recurrence() -> Recurrence:
    """The rq-scheduler/RQ handle on the app's Redis."""
    return Recurrence(redis_connection())
