"""Prometheus metrics: who may scrape, and what the text says."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import load_config

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def _families(response):
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def test_this_host_may_scrape_by_default(client):
    families = _families(client.get("/metrics"))
    assert {
        "almanac_runs",
        "almanac_retry_items",
        "almanac_webhook_deliveries",
        "almanac_leader_present",
        "almanac_leader_fencing_token",
        "almanac_queue_depth",
    } <= set(families)


def test_another_address_is_refused_without_the_token(client):
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403


def test_the_token_lets_any_address_scrape(client, monkeypatch, app):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-metrics-token")
    good = {"Authorization": "Bearer s3cret-metrics-token"}
    assert client.get("/metrics", headers=good, environ_base=OUTSIDE).status_code == 200
    bad = {"Authorization": "Bearer wrong"}
    assert client.get("/metrics", headers=bad, environ_base=OUTSIDE).status_code == 403
    # A wrong token is refused even from an allowed address.
    assert client.get("/metrics", headers=bad).status_code == 403


def test_an_allowed_network_may_scrape(client, monkeypatch, app):
    monkeypatch.setitem(app.config, "METRICS_ALLOWED_NETWORKS", ["203.0.113.0/24"])
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 200
    assert client.get("/metrics").status_code == 403


def test_runs_are_counted_by_outcome_and_task(client, make_job, make_execution, editor):
    job = make_job(editor)
    make_execution(job, status="failed")
    make_execution(job, status="failed")
    make_execution(job, status="succeeded")
    runs = _families(client.get("/metrics"))["almanac_runs"]
    counts = {(s.labels["status"], s.labels["task"]): s.value for s in runs.samples}
    assert counts[("failed", "noop")] == 2
    assert counts[("succeeded", "noop")] == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("10.0.0.0/8, ::1/128", ["10.0.0.0/8", "::1/128"]), ("127.0.0.1", ["127.0.0.1/32"])],
)
def test_allowed_networks_are_configured_from_the_environment(raw, expected, tmp_path):
    config = load_config({"METRICS_ALLOWED_NETWORKS": raw, "SECRET_KEY": "x" * 32}, tmp_path)
    assert config["METRICS_ALLOWED_NETWORKS"] == expected


def test_by_default_only_this_host_may_scrape(tmp_path):
    config = load_config({"SECRET_KEY": "x" * 32}, tmp_path)
    assert config["METRICS_ALLOWED_NETWORKS"] == ["127.0.0.1/32", "::1/128"]
    assert config["METRICS_TOKEN"] == ""
