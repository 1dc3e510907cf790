"""The engine for real: scheduler and worker subprocesses, real Redis, the test database."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug import Response

from app.extensions import db
from app.models import Execution, LeaderLease, ScheduledJob, SchedulerInstance, utcnow
from app.services.ledger.recurrence import JsonJob, rq_job_id
from tests.engine import wait_for

pytestmark = pytest.mark.slow


def rows(job_id=None, **filters):
    query = select(Execution).order_by(Execution.scheduled_for)
    if job_id is not None:
        query = query.where(Execution.job_id == job_id)
    for key, value in filters.items():
        query = query.where(getattr(Execution, key) == value)
    return db.session.scalars(query).all()


def successes(job_id):
    return rows(job_id, status="success")


def create(api, **body):
    response = api.post("/jobs", {"taskFunction": "noop", "name": "job"} | body)
    assert response.status_code == 201, response.json
    return uuid.UUID(response.json["id"])


def one_second_apart(slots):
    return all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(slots))


def assert_never_early(executions):
    for row in executions:
        if row.triggered_by == "scheduler" and row.queued_at is not None:
            assert row.queued_at >= row.scheduled_for, row
            assert row.started_at is None or row.started_at >= row.scheduled_for, row


def test_interval_job_fires_each_slot_once_on_time(engine, api_as, editor):
    engine.scheduler()
    engine.worker()
    job_id = create(api_as(editor), scheduleConfig={"seconds": 1})
    wait_for(lambda: len(successes(job_id)) >= 5, 20, engine.logs)
    done = successes(job_id)
    # Every slot is recorded once; on a loaded machine one may be skipped
    # because the run before it still waited for a worker (overlap skip).
    recorded = [row for row in rows(job_id) if row.status != "pending"]
    slots = [row.scheduled_for for row in recorded]
    assert len(set(slots)) == len(slots)
    assert one_second_apart(slots)
    assert all(
        "1 queued" in r.reason or "1 running" in r.reason for r in rows(job_id, status="skipped")
    )
    assert_never_early(rows(job_id))
    assert all(row.worker_name and row.duration_seconds is not None for row in done)
    job = db.session.get(ScheduledJob, job_id)
    assert job.last_status == "success" and job.next_run_time > done[-1].scheduled_for


def test_cron_job_fires_on_wall_clock_of_its_zone(engine, api_as, editor):
    zone = "Asia/Kolkata"  # UTC+05:30: a zone mix-up would miss the hour field
    from zoneinfo import ZoneInfo

    local = utcnow().astimezone(ZoneInfo(zone))
    if local.minute == 59 and local.second > 40:
        time.sleep(21)
        local = utcnow().astimezone(ZoneInfo(zone))
    expression = f"*/2 * {local.hour} * * *"
    engine.scheduler()
    engine.worker()
    job_id = create(
        api_as(editor), jobType="cron", scheduleConfig={"expression": expression}, timezone=zone
    )
    wait_for(lambda: len(successes(job_id)) >= 2, 20, engine.logs)
    for row in successes(job_id):
        fired = row.scheduled_for.astimezone(ZoneInfo(zone))
        assert fired.hour == local.hour and fired.second % 2 == 0


def test_two_schedulers_never_run_a_slot_twice(engine, api_as, editor, httpserver):
    httpserver.expect_request("/hit").respond_with_data("ok")
    url = httpserver.url_for("/hit")
    api = api_as(editor)
    ids = [
        create(
            api,
            name=f"hit {n}",
            taskFunction="http_request",
            scheduleConfig={"seconds": 1},
            taskArgs={"url": url},
        )
        for n in range(4)
    ]
    engine.scheduler()
    engine.scheduler()
    engine.worker()
    # One leads, the other stands by, and every job runs a while with both there.
    wait_for(lambda: len(_schedulers_up()) == 2, 15, engine.logs)
    both_up = utcnow()
    wait_for(
        lambda: all(_ran_after(i, both_up + timedelta(seconds=2)) for i in ids), 15, engine.logs
    )
    lease = _lease()
    token = lease.token
    leader = next(p for p in engine.processes if p.pid == _instance(lease.holder_id).pid)
    log = engine.log_of(leader)
    seen = len(log.read_text())
    # Freeze the leader past its lease: the stand-by takes over; the old one wakes up late.
    # (A fixed freeze: a leader frozen inside a fenced transaction holds the lease row, and
    # the stand-by gets it only once that one wakes.)
    os.kill(leader.pid, signal.SIGSTOP)
    frozen_at = utcnow()
    time.sleep(5)
    os.kill(leader.pid, signal.SIGCONT)
    thawed_at = utcnow()
    wait_for(lambda: _lease().token > token, 10, engine.logs)  # the stand-by leads
    wait_for(lambda: "lost leadership" in log.read_text()[seen:], 10, engine.logs)
    refused_at = utcnow()  # and every job runs on a while after the old one was refused
    wait_for(
        lambda: all(_ran_after(i, refused_at + timedelta(seconds=1)) for i in ids), 10, engine.logs
    )
    engine.stop(leader)
    for job_id in ids:  # no new slots; the leader repairs anything stranded meanwhile
        assert api.post(f"/jobs/{job_id}/action", {"action": "pause"}).status_code == 200
    wait_for(
        lambda: not rows(status="queued") and not rows(status="running"),
        40,
        lambda: [
            (r.status, str(r.scheduled_for.time()), r.queued_at, r.worker_name)
            for r in rows()
            if r.status in ("queued", "running")
        ],
    )
    engine.stop_all()
    ran = [row for row in rows() if row.status == "success"]
    assert len(httpserver.log) == len(ran)  # every request is one recorded run: no double runs
    per_slot = Counter((row.job_id, row.scheduled_for) for row in rows())
    assert max(per_slot.values()) == 1
    for job_id in ids:
        slots = [r.scheduled_for for r in rows(job_id) if r.status in ("success", "skipped")]
        gaps = [(a, b) for a, b in itertools.pairwise(slots) if b - a != timedelta(seconds=1)]
        assert not gaps, (
            [
                (r.status, str(r.scheduled_for.time()), r.reason, r.error_message)
                for r in rows(job_id)
                if any(a <= r.scheduled_for <= b for a, b in gaps)
            ],
            engine.logs(),
        )
        # Unbroken from before the freeze to after the old leader woke: no slot was lost
        # in the hand-over. (A slot due while its job's run still waits for a worker is
        # skipped: the overlap skip.)
        assert slots[0] < frozen_at and slots[-1] > thawed_at, (slots, frozen_at, thawed_at)
    assert_never_early(rows())


def _schedulers_up():
    return db.session.scalars(
        select(SchedulerInstance).where(
            SchedulerInstance.role == "scheduler", SchedulerInstance.stopped_at.is_(None)
        )
    ).all()


def _instance(instance_id):
    return db.session.get(SchedulerInstance, instance_id)


def _lease():
    return db.session.scalars(select(LeaderLease)).one()


def _ran_after(job_id, moment):
    """A run of the job for a slot later than ``moment`` has finished."""
    return any(r.scheduled_for > moment for r in successes(job_id))


def test_flushed_redis_is_rebuilt_within_one_reconcile_period(engine, api_as, editor):
    engine.scheduler()
    engine.worker()
    api = api_as(editor)
    ids = [create(api, name=f"job {n}", scheduleConfig={"seconds": 2}) for n in range(3)]
    wait_for(lambda: all(successes(i) for i in ids), 15, engine.logs)
    engine.redis.flushdb()
    flushed_at = utcnow()

    def each_fired_again():
        return all(any(r.started_at > flushed_at for r in successes(i)) for i in ids)

    wait_for(each_fired_again, 3 + 4, engine.logs)  # one reconcile period (3 s) and slack
    assert db.session.scalar(select(ScheduledJob).where(ScheduledJob.id == ids[0]))


def test_killed_work_horse_is_recorded_failed(engine, api_as, editor):
    engine.scheduler()
    engine.worker(WORKER_CONCURRENCY="1")
    job_id = create(
        api_as(editor), taskFunction="sleep", taskArgs={"seconds": 30}, scheduleConfig={"hours": 1}
    )
    response = api_as(editor).post(f"/jobs/{job_id}/action", {"action": "trigger"})
    assert response.status_code == 202
    running = wait_for(lambda: rows(job_id, status="running"), 15, engine.logs)[0]
    os.kill(_work_horse(running), signal.SIGKILL)
    failed = wait_for(lambda: rows(job_id, status="failed"), 10, engine.logs)[0]
    assert failed.error_message.startswith("worker lost")


def test_killed_worker_is_swept_as_worker_lost(engine, api_as, editor):
    engine.scheduler()
    worker = engine.worker(WORKER_CONCURRENCY="1")
    job_id = create(
        api_as(editor), taskFunction="sleep", taskArgs={"seconds": 30}, scheduleConfig={"hours": 1}
    )
    api_as(editor).post(f"/jobs/{job_id}/action", {"action": "trigger"})
    running = wait_for(lambda: rows(job_id, status="running"), 15, engine.logs)[0]
    os.killpg(worker.pid, signal.SIGKILL)  # the supervisor, its worker and the horse
    failed = wait_for(lambda: rows(job_id, status="failed"), 15, engine.logs)[0]
    assert "worker lost" in failed.error_message
    assert failed.id == running.id


def _work_horse(running):
    """The pid of a running run's work horse. The worker claims the run (it shows as
    running) just before it forks, so the horse may take a moment to appear."""
    worker = int(running.worker_name.split(":")[1])
    children = wait_for(lambda: _child_pids(worker), 10, "no work horse under the worker")
    return children[0]


def _child_pids(pid):
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return children


@pytest.mark.parametrize("policy", ["skip", "run_once", "run_all"])
def test_misfire_policies_after_scheduler_downtime(engine, api_as, editor, policy):
    scheduler = engine.scheduler()
    engine.worker()
    job_id = create(
        api_as(editor), scheduleConfig={"seconds": 1}, misfirePolicy=policy, misfireGraceSeconds=2
    )
    # A slow start (coverage in every process) must not already count as a misfire.
    wait_for(lambda: len(successes(job_id)) >= 2, 30, engine.logs)
    engine.stop(scheduler)
    time.sleep(6)
    engine.scheduler()
    wait_for(lambda: _late_rows(job_id), 15, engine.logs)
    wait_for(
        lambda: (
            not [r for r in _late_rows(job_id) if r.status != "missed" and r.status != "success"]
        ),
        30,  # run_all catches up one run at a time (max_instances=1)
        lambda: [
            (r.status, str(r.scheduled_for.time()), (r.reason or "")[:30]) for r in rows(job_id)
        ],
    )
    late = _late_rows(job_id)
    missed = [r for r in late if r.status == "missed"]
    ran = [r for r in late if r.status == "success"]
    assert len(late) >= 4
    if policy == "skip":
        assert len(missed) == len(late) and not ran
    elif policy == "run_once":
        assert len(ran) == 1 and len(missed) == len(late) - 1
        assert ran[0].scheduled_for == max(r.scheduled_for for r in late)
    else:
        assert len(ran) == len(late) and not missed
    assert all(r.reason and "misfire policy" in r.reason for r in missed)
    slots = [r.scheduled_for for r in rows(job_id) if r.status != "pending"]
    assert one_second_apart(slots)


def _late_rows(job_id):
    """The downtime's slots: each says why it was missed or caught up."""
    return [r for r in rows(job_id) if "misfire policy" in (r.reason or "")]


def test_overlap_skip_records_skipped_slots(engine, api_as, editor):
    engine.scheduler()
    engine.worker()
    job_id = create(
        api_as(editor),
        taskFunction="sleep",
        taskArgs={"seconds": 2.5},
        scheduleConfig={"seconds": 1},
        maxInstances=1,
        overlapPolicy="skip",
    )
    skipped = wait_for(lambda: rows(job_id, status="skipped"), 15, engine.logs)
    assert "max_instances=1" in skipped[0].reason
    running = [r for r in rows(job_id) if r.status in ("queued", "running")]
    assert len(running) <= 1


def test_overlap_queue_holds_one_then_runs_it(engine, api_as, editor):
    engine.scheduler()
    engine.worker()
    job_id = create(
        api_as(editor),
        taskFunction="sleep",
        taskArgs={"seconds": 2},
        scheduleConfig={"seconds": 1},
        maxInstances=1,
        overlapPolicy="queue",
    )
    wait_for(lambda: len(successes(job_id)) >= 2, 20, engine.logs)
    all_rows = rows(job_id)
    assert any(r.status == "skipped" and "already waiting" in r.reason for r in all_rows)
    starts = sorted(r.started_at for r in successes(job_id))
    ends = sorted(r.completed_at for r in successes(job_id))
    assert starts[1] >= ends[0]  # never two at once


def test_paused_job_does_not_fire_but_run_now_works(engine, api_as, editor):
    engine.scheduler()
    engine.worker()
    api = api_as(editor)
    job_id = create(api, scheduleConfig={"seconds": 1})
    wait_for(lambda: successes(job_id), 10, engine.logs)
    api.post(f"/jobs/{job_id}/action", {"action": "pause", "reason": "maintenance"})
    time.sleep(1)
    before = [row.id for row in rows(job_id)]
    watched_from = time.monotonic()
    # Run now works while paused, and the paused schedule adds nothing meanwhile.
    response = api.post(f"/jobs/{job_id}/action", {"action": "trigger"})
    assert response.status_code == 202, response.json
    execution_id = uuid.UUID(response.json["executionId"])
    wait_for(lambda: db.session.get(Execution, execution_id).status == "success", 10)
    manual = db.session.get(Execution, execution_id)
    assert manual.triggered_by == "api" and manual.triggered_by_user_id == editor.id
    # RQ keeps the finished job's hash a minute (expiring, not deleted at once).
    key = JsonJob.key_for(rq_job_id(execution_id))
    wait_for(lambda: 0 < engine.redis.ttl(key) <= 60, 10, engine.logs)
    time.sleep(max(0.0, watched_from + 3 - time.monotonic()))  # three slots' worth at least
    db.session.rollback()
    assert [row.id for row in rows(job_id) if row.id != execution_id] == before
    api.post(f"/jobs/{job_id}/action", {"action": "resume"})
    count = len(successes(job_id))
    wait_for(lambda: len(successes(job_id)) >= count + 2, 10, engine.logs)


def test_timeout_is_recorded(engine, api_as, editor):
    engine.scheduler()
    engine.worker()
    job_id = create(
        api_as(editor),
        taskFunction="sleep",
        taskArgs={"seconds": 10},
        scheduleConfig={"hours": 1},
        timeoutSeconds=1,
    )
    api_as(editor).post(f"/jobs/{job_id}/action", {"action": "trigger"})
    row = wait_for(lambda: rows(job_id, status="timeout"), 15, engine.logs)[0]
    assert "timed out" in row.error_message
    assert row.duration_seconds < 5


def test_edited_schedule_takes_effect_without_restart(engine, api_as, editor):
    engine.scheduler()
    engine.worker()
    api = api_as(editor)
    job_id = create(api, scheduleConfig={"hours": 1})
    time.sleep(1)
    assert not successes(job_id)
    assert api.patch(f"/jobs/{job_id}", {"scheduleConfig": {"seconds": 1}}).status_code == 200
    wait_for(lambda: len(successes(job_id)) >= 3, 10, engine.logs)
    # Every slot of the new schedule is recorded, a second apart; on a loaded machine one
    # may be skipped because the run before it still waited for a worker (overlap skip).
    recorded = [row for row in rows(job_id) if row.status != "pending"]
    assert one_second_apart([row.scheduled_for for row in recorded])
    assert all(
        "1 queued" in r.reason or "1 running" in r.reason for r in rows(job_id, status="skipped")
    )
    assert not rows(job_id, status="pending")[1:]  # one armed slot at a time


def test_sigterm_stops_processes_gracefully(engine, api_as, editor):
    scheduler = engine.scheduler()
    worker = engine.worker()
    job_id = create(api_as(editor), scheduleConfig={"seconds": 1})
    wait_for(lambda: successes(job_id), 20, engine.logs)  # both are up and working
    assert engine.stop(scheduler) == 0
    assert engine.stop(worker) == 0
    db.session.rollback()
    instances = db.session.scalars(select(SchedulerInstance)).all()
    assert {i.role for i in instances} == {"scheduler", "worker"}
    assert all(i.stopped_at is not None and not i.is_leader for i in instances)


def test_slots_are_enqueued_on_time_while_every_worker_is_busy(engine, api_as, editor, httpserver):
    # The blocker holds the only worker until the test lets its request go.
    release = threading.Event()

    def held(_request):
        release.wait(60)
        return Response("ok")

    httpserver.expect_request("/hold").respond_with_handler(held)
    engine.scheduler()
    engine.worker(WORKER_CONCURRENCY="1")
    api = api_as(editor)
    blocker = create(
        api,
        name="blocker",
        taskFunction="http_request",
        taskArgs={"url": httpserver.url_for("/hold"), "timeout": 120},
        scheduleConfig={"hours": 1},
    )
    try:
        api.post(f"/jobs/{blocker}/action", {"action": "trigger"})
        wait_for(lambda: rows(blocker, status="running"), 15, engine.logs)
        job_id = create(api, scheduleConfig={"seconds": 1}, maxInstances=10)
        wait_for(lambda: len(rows(job_id, status="queued")) >= 3, 10, engine.logs)
        waiting = rows(job_id, status="queued")
        assert rows(blocker, status="running")  # the only worker is still busy
        assert all((r.queued_at - r.scheduled_for).total_seconds() < 1 for r in waiting)
        # And the next slot is armed: within a pass, as the one just fired may not have a
        # successor yet.
        wait_for(lambda: rows(job_id, status="pending"), 3, engine.logs)
    finally:
        release.set()
    wait_for(lambda: len(successes(job_id)) >= 3, 20, engine.logs)  # they run once it frees
    assert rows(blocker, status="success")
