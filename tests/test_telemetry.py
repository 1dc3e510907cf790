"""Event metrics: what each recording function counts, and how /metrics adds processes up."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import telemetry
from tests.engine import ROOT


def _samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics scrape, keyed by name and sorted labels."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.data
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_fired_slots_are_counted_by_queue_with_their_lateness(client):
    before = _samples(client)
    telemetry.slots_fired([("tele-q", 0.004), ("tele-q", 0.2), ("tele-other", 45.0)])
    after = _samples(client)

    def grew(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("almanac_slots_fired_total", queue="tele-q") == 2
    assert grew("almanac_slots_fired_total", queue="tele-other") == 1
    assert grew("almanac_fire_lateness_seconds_count") == 3
    assert grew("almanac_fire_lateness_seconds_bucket", le="0.005") == 1
    assert grew("almanac_fire_lateness_seconds_bucket", le="0.25") == 2
    assert grew("almanac_fire_lateness_seconds_bucket", le="30.0") == 2
    assert grew("almanac_fire_lateness_seconds_bucket", le="60.0") == 3
    assert grew("almanac_fire_lateness_seconds_sum") == pytest.approx(45.204)


def test_a_slot_stamped_a_hair_early_counts_as_on_time(client):
    before = _samples(client)
    telemetry.slots_fired([("tele-early", -0.0001)])
    after = _samples(client)
    key = ("almanac_fire_lateness_seconds_bucket", (("le", "0.001"),))
    assert after[key] - before.get(key, 0) == 1


def test_runs_are_counted_by_outcome_and_task_and_timed(client):
    before = _samples(client)
    telemetry.run_ended("tele-task", "success", 1.5)
    telemetry.run_ended("tele-task", "failed", 0.02)
    telemetry.run_ended("tele-task", "failed", None)  # lost: counted, not timed
    after = _samples(client)

    def grew(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("almanac_runs_ended_total", status="success", task="tele-task") == 1
    assert grew("almanac_runs_ended_total", status="failed", task="tele-task") == 2
    assert grew("almanac_run_duration_seconds_count", task="tele-task") == 2
    assert grew("almanac_run_duration_seconds_sum", task="tele-task") == pytest.approx(1.52)
    assert grew("almanac_run_duration_seconds_bucket", task="tele-task", le="0.05") == 1


def test_leadership_follows_this_instance(client):
    telemetry.leadership("tele-instance", 42)
    samples = _samples(client)
    assert _value(samples, "almanac_scheduler_leader", instance="tele-instance") == 1
    assert _value(samples, "almanac_scheduler_fencing_token", instance="tele-instance") == 42
    telemetry.leadership("tele-instance", None)
    samples = _samples(client)
    assert _value(samples, "almanac_scheduler_leader", instance="tele-instance") == 0
    assert _value(samples, "almanac_scheduler_fencing_token", instance="tele-instance") == 0


def test_a_reconcile_sets_its_time_and_counts_what_it_changed(client):
    before = _samples(client)
    at = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    telemetry.reconciled(at, {"armed": 3, "worker lost": 1, "re-armed": 2, "dropped": 0})
    after = _samples(client)

    def grew(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert _value(after, "almanac_last_reconcile_timestamp_seconds") == at.timestamp()
    assert grew("almanac_reconciles_total") == 1
    assert grew("almanac_reconcile_changes_total", change="armed") == 3
    assert grew("almanac_reconcile_changes_total", change="worker_lost") == 1
    assert grew("almanac_reconcile_changes_total", change="re_armed") == 2
    assert ("almanac_reconcile_changes_total", (("change", "dropped"),)) not in after


def test_a_work_horse_writes_under_its_workers_identity(monkeypatch):
    assert telemetry._process_identifier() == str(os.getpid())
    monkeypatch.setattr(telemetry, "_horse_of", 4321)
    assert telemetry._process_identifier() == "horse4321"


# Run in a child process, as the scheduler and a worker's horses would: each
# records into the shared directory, and only a work horse's files are shared.
_CHILD = """
import os, sys
from datetime import UTC, datetime
from app import telemetry
if sys.argv[1] == "horse":
    telemetry._horse_of = 777
telemetry.run_ended("tele-mp", "success", 0.3)
telemetry.slots_fired([("tele-mp-q", 0.002)])
telemetry.leadership("tele-mp-" + sys.argv[1], 9)
telemetry.reconciled(datetime(2030, 1, 1, tzinfo=UTC), {"armed": 1})
if sys.argv[1] == "stopped":
    telemetry.process_ended()
"""


def _child(directory, role: str) -> None:
    env = os.environ | {telemetry.MULTIPROC_ENV: str(directory)}
    subprocess.run([sys.executable, "-c", _CHILD, role], cwd=ROOT, env=env, check=True)


def test_scrape_adds_up_every_process_of_the_multiprocess_directory(client, tmp_path, monkeypatch):
    for role in ("horse", "horse", "stopped"):
        _child(tmp_path, role)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "counter_horse777.db" in names  # two horses of one worker: one set of files
    assert not [n for n in names if n.startswith("gauge_liveall") and "stopped" in n]
    monkeypatch.setenv(telemetry.MULTIPROC_ENV, str(tmp_path))
    samples = _samples(client)
    assert _value(samples, "almanac_runs_ended_total", status="success", task="tele-mp") == 3
    assert _value(samples, "almanac_run_duration_seconds_count", task="tele-mp") == 3
    assert _value(samples, "almanac_slots_fired_total", queue="tele-mp-q") == 3
    assert _value(samples, "almanac_fire_lateness_seconds_count") == 3
    assert _value(samples, "almanac_reconcile_changes_total", change="armed") == 3
    last = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    assert _value(samples, "almanac_last_reconcile_timestamp_seconds") == last
    leaders = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "almanac_scheduler_leader"
    }
    instances = {dict(labels)["instance"] for labels in leaders}
    # A stopped process's live series are gone; a running one's remain.
    assert "tele-mp-horse" in instances and "tele-mp-stopped" not in instances
    # The scrape-time gauges are still there beside the event figures.
    assert ("almanac_leader_present", ()) in samples


def test_gunicorn_forgets_a_dead_workers_live_gauges_only(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    for name in ("gauge_liveall_4242.db", "counter_4242.db", "gauge_liveall_4343.db"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv(telemetry.MULTIPROC_ENV, str(tmp_path))

    class Worker:
        pid = 4242

    conf.child_exit(None, Worker())
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["counter_4242.db", "gauge_liveall_4343.db"]  # counters outlive the worker
