"""Prometheus metrics at ``/metrics``: scrape-time gauges plus every process's event figures.

The gauges here are counts of rows (or Redis queue lengths) read when Prometheus
scrapes, so they are the same whichever gunicorn worker answers and whatever
process (scheduler, worker, retry runner) changed them. Events (slots fired,
lateness, run outcomes and durations, leadership, reconciles) are counted where
they happen and added up here from the multiprocess directory (``app/telemetry.py``).
Access: a bearer token (``METRICS_TOKEN``) or a client address inside
``METRICS_ALLOWED_NETWORKS`` (default: this host only).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from app import telemetry
from app.extensions import DbSession, db
from app.models import (
    Execution,
    LeaderLease,
    RetryItem,
    ScheduledJob,
    TaskFunction,
    WebhookDelivery,
    utcnow,
)
from app.queues import redis_connection
from app.services.ledger.leadership import LEASE_NAME
from app.services.ledger.recurrence import WEBHOOK_QUEUE

bp = Blueprint("metrics", __name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/metrics")
def metrics() -> Any:
    """The Prometheus text exposition, for an allowed scraper only."""
    if not _allowed():
        return Response(
            "Forbidden: send the metrics token or scrape from an allowed network.\n",
            status=403,
            mimetype="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AlmanacCollector(db.session))
    telemetry.collect_into(registry)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE)


def _allowed() -> bool:
    """The right bearer token, or a client address in an allowed network."""
    token = current_app.config.get("METRICS_TOKEN", "")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer":
        return hmac.compare_digest(given.strip().encode(), token.encode())
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    networks = current_app.config.get("METRICS_ALLOWED_NETWORKS", [])
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


class AlmanacCollector(Collector):
    """Gauges read from the database and Redis on every scrape."""

    def __init__(self, session: DbSession) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        """Every family, one query each."""
        yield self._runs()
        yield self._grouped("almanac_retry_items", "Retry queue items by status.", RetryItem)
        yield self._grouped(
            "almanac_webhook_deliveries", "Webhook deliveries by outcome.", WebhookDelivery
        )
        yield from self._leader()
        yield self._queues()

    def _runs(self) -> Metric:
        family = GaugeMetricFamily(
            "almanac_runs",
            "Executions kept in history, by outcome and task.",
            labels=["status", "task"],
        )
        rows = self.session.execute(
            select(Execution.status, TaskFunction.name, func.count())
            .join(ScheduledJob, Execution.job_id == ScheduledJob.id)
            .join(TaskFunction, ScheduledJob.task_function_id == TaskFunction.id)
            .group_by(Execution.status, TaskFunction.name)
        )
        for status, task, count in rows:
            family.add_metric([status, task], count)
        return family

    def _grouped(self, name: str, documentation: str, model: Any) -> Metric:
        family = GaugeMetricFamily(name, documentation, labels=["status"])
        rows = self.session.execute(select(model.status, func.count()).group_by(model.status))
        for status, count in rows:
            family.add_metric([status], count)
        return family

    def _leader(self) -> Iterator[Metric]:
        lease = self.session.get(LeaderLease, LEASE_NAME)
        live = bool(lease and lease.expires_at and lease.expires_at > utcnow())
        yield GaugeMetricFamily(
            "almanac_leader_present", "1 while a scheduler holds a live leader lease.", int(live)
        )
        yield GaugeMetricFamily(
            "almanac_leader_fencing_token",
            "The leader lease's fencing token (grows at each change of leader).",
            lease.token if lease else 0,
        )

    def _queues(self) -> Metric:
        family = GaugeMetricFamily(
            "almanac_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"]
        )
        names = set(self.session.scalars(select(TaskFunction.queue))) | {WEBHOOK_QUEUE}
        names |= {q for q in self.session.scalars(select(ScheduledJob.queue).distinct()) if q}
        redis = redis_connection()
        try:
            for name in sorted(names):
                count = Queue(name, connection=redis, serializer=JSONSerializer).count
                family.add_metric([name], count)
        except (RedisError, OSError):
            pass  # Redis down: the depths are missing from this scrape, not a failed scrape.
        return family
