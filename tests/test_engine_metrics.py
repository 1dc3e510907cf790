"""Event metrics end to end: a real scheduler and worker count into the multiprocess
directory, and the web's /metrics adds their figures up."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import telemetry
from app.models import utcnow
from tests.engine import wait_for
from tests.test_engine import create, successes

pytestmark = pytest.mark.slow


def _scrape(client) -> dict[str, list]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.data
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def _total(found, name, **labels) -> float:
    return sum(
        s.value
        for s in found.get(name, [])
        if all(s.labels.get(key) == value for key, value in labels.items())
    )


def test_a_fired_and_run_slot_shows_in_the_scrape(
    engine, api_as, editor, client, tmp_path, monkeypatch
):
    directory = tmp_path / "metrics"
    directory.mkdir()
    engine.env[telemetry.MULTIPROC_ENV] = str(directory)
    monkeypatch.setenv(telemetry.MULTIPROC_ENV, str(directory))
    started = utcnow().timestamp()
    engine.scheduler()
    engine.worker()
    job_id = create(api_as(editor), name="metered", scheduleConfig={"seconds": 1})
    wait_for(lambda: successes(job_id), 30, engine.logs)

    def counted():
        found = _scrape(client)
        ready = (
            _total(found, "almanac_runs_ended_total", status="success", task="noop") >= 1
            and _total(found, "almanac_last_reconcile_timestamp_seconds") >= started
            # One instance, leading (waited for: a loaded machine may cost it a lease).
            and _total(found, "almanac_scheduler_leader") == 1
        )
        return found if ready else None

    found = wait_for(counted, 20, lambda: sorted(p.name for p in directory.iterdir()))
    assert _total(found, "almanac_slots_fired_total") >= 1
    assert _total(found, "almanac_fire_lateness_seconds_count") >= 1
    assert _total(found, "almanac_run_duration_seconds_count", task="noop") >= 1
    assert _total(found, "almanac_reconciles_total") >= 1
    assert _total(found, "almanac_scheduler_fencing_token") >= 1
