"""Event metrics: what the scheduler, the workers and the retry runner did, as it happened.

The scrape-time gauges in ``app/metrics.py`` are read from the database; these
are events that only the process living them sees (a slot fired 3 ms late, a
run took 2 s). Each process counts in memory-mapped files under
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode) and the
web process adds them all up when Prometheus scrapes. Without that variable
(tests, ``flask run``) the figures stay in the process and ``/metrics`` shows
that process's own.

Recording is increments only: no database or Redis round trip, so none of it
costs the firing or the run anything measurable. Labels are bounded (queue,
task name, status, kind of change, scheduler instance): never a job id.

prometheus_client picks its storage when the first metric is built, from the
environment, so this module decides at import (the launcher sets the variable
for every process; see ``scripts/run.sh``) — the one read of the environment
at import time, as the library requires.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# 1 ms … 60 s: an on-time fire is milliseconds late; a minute or more is a misfire story.
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)

# Set in an RQ work horse to the pid of the worker that forked it (see enter_work_horse).
_horse_of: int | None = None


def _process_identifier() -> str:
    """Which metrics files this process writes: its pid, or for a work horse its worker's.

    RQ forks a horse per run; with the pid, every run would leave files of its
    own behind and a scrape would read thousands. A worker's horses run one
    after another, never together, so they can safely share one set of files
    (the rule prometheus_client asks of an identifier: distinct among
    processes running at the same time). The worker itself writes under its
    own pid, so every new horse differs from its parent and re-reads the files.
    """
    return f"horse{_horse_of}" if _horse_of is not None else str(os.getpid())


def multiprocess_dir() -> str | None:
    """The shared metrics directory, when the processes run in multiprocess mode."""
    return os.environ.get(MULTIPROC_ENV) or None


if multiprocess_dir():
    values.ValueClass = values.MultiProcessValue(_process_identifier)  # type: ignore[no-untyped-call]
else:  # prometheus_client alone would take an empty variable for a directory (the cwd)
    values.ValueClass = values.MutexValue

SLOTS_FIRED = Counter(
    "almanac_slots_fired",
    "Scheduled slots sent to their queue (on time, caught up or released), by queue.",
    ["queue"],
    registry=None,
)
FIRE_LATENESS = Histogram(
    "almanac_fire_lateness_seconds",
    "How long after its scheduled time a slot was sent to its queue (jitter included).",
    registry=None,
    buckets=LATENESS_BUCKETS,
)
RUNS_ENDED = Counter(
    "almanac_runs_ended",
    "Runs that ended, by outcome and task (a lost worker counts as failed).",
    ["status", "task"],
    registry=None,
)
RUN_DURATION = Histogram(
    "almanac_run_duration_seconds",
    "How long a task ran, by task.",
    ["task"],
    registry=None,
    buckets=DURATION_BUCKETS,
)
SCHEDULER_LEADER = Gauge(
    "almanac_scheduler_leader",
    "1 while this scheduler instance leads, 0 while it stands by.",
    ["instance"],
    registry=None,
    multiprocess_mode="liveall",
)
SCHEDULER_TOKEN = Gauge(
    "almanac_scheduler_fencing_token",
    "The fencing token this scheduler instance leads with (0 while standing by).",
    ["instance"],
    registry=None,
    multiprocess_mode="liveall",
)
LAST_RECONCILE = Gauge(
    "almanac_last_reconcile_timestamp_seconds",
    "When the last reconcile pass ended (unix time).",
    registry=None,
    multiprocess_mode="max",
)
RECONCILES = Counter("almanac_reconciles", "Reconcile passes made.", registry=None)
RECONCILE_CHANGES = Counter(
    "almanac_reconcile_changes",
    "What reconcile passes changed, by kind (armed, requeued, worker lost, …).",
    ["change"],
    registry=None,
)
EVENT_METRICS = (
    SLOTS_FIRED,
    FIRE_LATENESS,
    RUNS_ENDED,
    RUN_DURATION,
    SCHEDULER_LEADER,
    SCHEDULER_TOKEN,
    LAST_RECONCILE,
    RECONCILES,
    RECONCILE_CHANGES,
)


def slots_fired(fired: Iterable[tuple[str, float]]) -> None:
    """Count fired slots by queue and observe how late each was sent (seconds)."""
    for queue, lateness in fired:
        SLOTS_FIRED.labels(queue=queue).inc()
        FIRE_LATENESS.observe(max(lateness, 0.0))


def run_ended(task: str, status: str, seconds: float | None) -> None:
    """Count a run's outcome; observe its duration when it really ran.

    The duration goes first: with the multiprocess directory each metric is its
    own file, so a scrape between the two writes would see the end without it.
    """
    if seconds is not None:
        RUN_DURATION.labels(task=task).observe(max(seconds, 0.0))
    RUNS_ENDED.labels(status=status, task=task).inc()


def leadership(instance: str, token: int | None) -> None:
    """This scheduler leads with ``token``, or (None) stands by."""
    SCHEDULER_LEADER.labels(instance=instance).set(1 if token is not None else 0)
    SCHEDULER_TOKEN.labels(instance=instance).set(token or 0)


def reconciled(at: datetime, changes: Mapping[str, int]) -> None:
    """A reconcile pass ended at ``at`` having changed ``changes`` (kind → count)."""
    RECONCILES.inc()
    LAST_RECONCILE.set(at.timestamp())
    for kind, count in changes.items():
        if count:
            RECONCILE_CHANGES.labels(change=_label(kind)).inc(count)


def _label(kind: str) -> str:
    """'worker lost' → 'worker_lost': label values that read well in PromQL."""
    return kind.replace(" ", "_").replace("-", "_")


def process_ended() -> None:
    """A process with live gauges stops: its series leave the scrape (liveall)."""
    path = multiprocess_dir()
    if path:
        multiprocess.mark_process_dead(_process_identifier(), path)  # type: ignore[no-untyped-call]


def enter_work_horse() -> None:
    """Called first thing in a forked RQ work horse: write under the worker's files."""
    global _horse_of
    _horse_of = os.getppid()


def collect_into(registry: CollectorRegistry) -> None:
    """Add every process's event figures (multiprocess), else this process's own."""
    path = multiprocess_dir()
    if path:
        multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        return
    for metric in EVENT_METRICS:
        registry.register(metric)
