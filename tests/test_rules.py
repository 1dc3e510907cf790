"""Who may see and change what (SPEC §3): the same answer through the service and the API.

Each rule is asked twice, once of the service a form would call and once of
the JSON API, so the UI can rely on the services alone.
"""

from __future__ import annotations

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from app.extensions import db
from app.models import Execution, ExecutionStatus, RetryItem, TriggeredBy, Webhook, utcnow
from app.services import access, status
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.events import webhooks
from app.services.failures import retry_queue
from app.services.ledger import executions, retention, runs
from app.services.ledger.runs import Outcome
from app.services.scheduling import jobs
from tests.conftest import TEST_REDIS_URL

CLEANUP = {"name": "Tidy up", "task_function": "cleanup_history", "schedule_config": {"days": 1}}
CLEANUP_API = {"name": "Tidy up", "taskFunction": "cleanup_history", "scheduleConfig": {"days": 1}}


@pytest.fixture
def system_job(make_job, admin, editor):
    """A system task an admin scheduled and gave to an editor."""
    return make_job(admin, **CLEANUP, owner_id=editor.id)


def failed_run(job):
    """A failed run of ``job`` with its pending retry item."""
    now = utcnow()
    row = Execution(job=job, status="running", scheduled_for=now, started_at=now)
    db.session.add(row)
    db.session.commit()
    runs.finish(db.session, row.id, Outcome(ExecutionStatus.FAILED, error="boom"), now)
    db.session.expire_all()
    return db.session.scalar(select(RetryItem).where(RetryItem.execution_id == row.id))


# --- a viewer reads everything and changes nothing -----------------------------------------


def test_viewer_reads_a_job_through_service_and_api(api_as, editor, viewer, make_job):
    job = make_job(editor)
    assert jobs.get_job(db.session, viewer.user, job.id) is job
    assert api_as(viewer).get(f"/jobs/{job.id}").status_code == 200


@pytest.mark.parametrize("action", ["pause", "disable", "trigger"])
def test_viewer_may_not_act_on_a_job_through_service_or_api(
    api_as, editor, viewer, make_job, rec, action
):
    job = make_job(editor)
    with pytest.raises(Forbidden):
        if action == "trigger":
            jobs.run_now(db.session, viewer.user, job.id, TriggeredBy.MANUAL, utcnow(), rec)
        else:
            jobs.apply_action(db.session, viewer.user, job.id, action, utcnow())
    response = api_as(viewer).post(f"/jobs/{job.id}/action", {"action": action})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    db.session.expire_all()
    assert not job.is_paused and job.is_enabled
    assert db.session.scalars(select(Execution)).all() == []


def test_viewer_may_not_create_update_or_delete_through_service_or_api(
    api_as, editor, viewer, make_job
):
    job = make_job(editor)
    with pytest.raises(Forbidden):
        jobs.create_job(db.session, viewer.user, CLEANUP | {"task_function": "noop"}, utcnow())
    with pytest.raises(Forbidden):
        jobs.update_job(db.session, viewer.user, job.id, {"name": "x"}, utcnow())
    with pytest.raises(Forbidden):
        jobs.delete_job(db.session, viewer.user, job.id, utcnow())
    api = api_as(viewer)
    assert api.post("/jobs", CLEANUP_API | {"taskFunction": "noop"}).status_code == 403
    assert api.patch(f"/jobs/{job.id}", {"name": "x"}).status_code == 403
    assert api.delete(f"/jobs/{job.id}").status_code == 403


def test_viewer_may_not_retry_or_discard_through_service_or_api(api_as, editor, viewer, make_job):
    item = failed_run(make_job(editor, retry_count=2, retry_delay_seconds=3600))
    with pytest.raises(Forbidden):
        retry_queue.discard(db.session, viewer.user, item.id, utcnow())
    assert api_as(viewer).delete(f"/retries/{item.id}").status_code == 403
    assert api_as(viewer).post(f"/retries/{item.id}/trigger").status_code == 403
    assert api_as(viewer).get(f"/retries/{item.id}").status_code == 200


# --- an editor does not see another user's job -----------------------------------------------


def test_editor_gets_not_found_for_another_users_job_through_service_and_api(
    api_as, editor, outsider, make_job
):
    job = make_job(editor)
    for attempt in (
        lambda: jobs.get_job(db.session, outsider.user, job.id),
        lambda: jobs.update_job(db.session, outsider.user, job.id, {"name": "x"}, utcnow()),
        lambda: jobs.apply_action(db.session, outsider.user, job, "pause", utcnow()),
        lambda: jobs.delete_job(db.session, outsider.user, job, utcnow()),
    ):
        with pytest.raises(NotFound):
            attempt()
    api = api_as(outsider)
    assert api.get(f"/jobs/{job.id}").status_code == 404
    assert api.put(f"/jobs/{job.id}", {"name": "x"}).status_code == 404
    assert api.post(f"/jobs/{job.id}/action", {"action": "trigger"}).status_code == 404


def test_editor_does_not_see_another_users_history_items_or_webhooks(
    api_as, admin, editor, outsider, make_job, make_execution
):
    job = make_job(editor, retry_count=2, retry_delay_seconds=3600)
    run = make_execution(job)
    item = failed_run(job)
    hook = webhooks.create_webhook(
        db.session,
        editor.user,
        {"job_id": job.id, "phase": "failed", "url": "https://x.example/"},
        utcnow(),
    )
    with pytest.raises(NotFound):
        executions.get_execution(db.session, outsider.user, run.id)
    with pytest.raises(NotFound):
        retry_queue.get_item(db.session, outsider.user, item.id)
    with pytest.raises(NotFound):
        webhooks.get_webhook(db.session, outsider.user, hook.id)
    api = api_as(outsider)
    assert api.get(f"/executions/{run.id}").status_code == 404
    assert api.get(f"/retries/{item.id}").status_code == 404
    assert api.get(f"/webhooks/{hook.id}").status_code == 404
    assert api.post(f"/webhooks/{hook.id}/ping").status_code == 404
    assert api.get("/webhooks").json["total"] == 0
    # The owner and an admin see all of it.
    assert api_as(editor).get(f"/webhooks/{hook.id}").status_code == 200
    assert api_as(admin).get(f"/retries/{item.id}").status_code == 200


def test_status_shows_an_editor_only_their_own_jobs(
    api_as, editor, outsider, make_job, make_execution
):
    Redis.from_url(TEST_REDIS_URL).flushdb()
    theirs = make_job(outsider, name="theirs, sooner", schedule_config={"seconds": 30})
    make_execution(theirs, status="running")
    make_job(editor, name="mine, later", schedule_config={"hours": 5})
    snapshot = status.cluster_status(db.session, editor.user, utcnow(), None)
    assert snapshot.next_job is not None and snapshot.next_job.name == "mine, later"
    assert snapshot.job_counts["total"] == 1 and snapshot.running_jobs == 0
    assert snapshot.execution_counts["running"] == 0
    body = api_as(editor).get("/status").json
    assert body["nextScheduledJob"]["name"] == "mine, later"
    assert (body["totalJobs"], body["runningJobs"], body["executionCounts"]["running"]) == (1, 0, 0)
    # Those who see every job see the whole cluster.
    everything = api_as(outsider).get("/status").json
    assert everything["nextScheduledJob"]["name"] == "theirs, sooner"


def test_status_for_viewers_and_admins_covers_every_job(api_as, viewer, editor, outsider, make_job):
    Redis.from_url(TEST_REDIS_URL).flushdb()
    make_job(editor)
    make_job(outsider)
    assert api_as(viewer).get("/status").json["totalJobs"] == 2
    assert status.cluster_status(db.session, viewer.user, utcnow(), None).job_counts["total"] == 2


# --- system tasks are admin-only through every door --------------------------------------------


def test_editor_may_not_create_a_system_task_through_service_or_api(api_as, editor, admin):
    with pytest.raises(Forbidden, match="system tasks"):
        jobs.create_job(db.session, editor.user, CLEANUP, utcnow())
    response = api_as(editor).post("/jobs", CLEANUP_API)
    assert response.status_code == 403, response.json
    assert "system tasks" in response.json["error"]["message"]
    assert api_as(admin).post("/jobs", CLEANUP_API).status_code == 201


def test_editor_may_not_switch_a_job_to_a_system_task(api_as, editor, make_job):
    job = make_job(editor)
    with pytest.raises(Forbidden):
        jobs.update_job(
            db.session, editor.user, job.id, {"task_function": "cleanup_history"}, utcnow()
        )
    response = api_as(editor).patch(f"/jobs/{job.id}", {"taskFunction": "cleanup_history"})
    assert response.status_code == 403
    db.session.expire_all()
    assert job.task_function.name == "noop"


def test_editor_may_not_change_or_run_a_system_task_they_own(
    api_as, editor, admin, system_job, rec
):
    assert jobs.get_job(db.session, editor.user, system_job.id) is system_job  # visible
    with pytest.raises(Forbidden):
        jobs.update_job(db.session, editor.user, system_job.id, {"name": "mine"}, utcnow())
    with pytest.raises(Forbidden):
        jobs.run_now(db.session, editor.user, system_job, TriggeredBy.MANUAL, utcnow(), rec)
    api = api_as(editor)
    assert api.patch(f"/jobs/{system_job.id}", {"name": "mine"}).status_code == 403
    assert api.post(f"/jobs/{system_job.id}/action", {"action": "trigger"}).status_code == 403
    assert api.post(f"/jobs/{system_job.id}/action", {"action": "pause"}).status_code == 403
    assert db.session.scalars(select(Execution)).all() == []
    # An admin may run it.
    answer = api_as(admin).post(f"/jobs/{system_job.id}/action", {"action": "trigger"})
    assert answer.status_code == 202


def test_editor_may_not_retry_a_system_tasks_run(api_as, editor, system_job, rec):
    item = failed_run(system_job)
    with pytest.raises(Forbidden):
        retry_queue.retry_now(db.session, editor.user, item.id, utcnow(), rec)
    assert api_as(editor).post(f"/retries/{item.id}/trigger").status_code == 403
    bulk = api_as(editor).post("/retries/bulk", {"action": "discard"})
    assert bulk.status_code == 200 and bulk.json["count"] == 0


# --- the rule functions themselves --------------------------------------------------------


def test_sql_and_row_rules_agree(editor, outsider, viewer, admin, make_job, system_job):
    mine, theirs = make_job(editor), make_job(outsider)
    for persona in (editor, outsider, viewer, admin):
        user = persona.user
        seen = set(db.session.scalars(access.visible_job_ids(user)))
        changeable = set(
            db.session.scalars(
                access.visible_job_ids(user).where(access.changeable_job_condition(user))
            )
        )
        for job in (mine, theirs, system_job):
            assert (job.id in seen) == access.can_see_job(user, job)
            assert (job.id in changeable) == access.can_change_job(user, job)


def test_webhook_visibility_follows_its_job(editor, outsider, admin, make_job):
    job = make_job(editor)
    own = Webhook(job_id=job.id, phase="failed", url="https://x.example/", secret="s" * 20)
    everyone = Webhook(job_id=None, phase="failed", url="https://x.example/", secret="s" * 20)
    db.session.add_all([own, everyone])
    db.session.commit()
    visible = {
        persona.user.email: set(db.session.scalars(webhooks.visible_webhooks(persona.user)))
        for persona in (editor, outsider, admin)
    }
    assert visible == {
        "editor@example.com": {own},
        "outsider@example.com": set(),
        "admin@example.com": {own, everyone},
    }


# --- history cleanup is for admins; a retry survives Redis being down ---------------------------


def test_only_admins_clean_up_history_through_service_and_api(api_as, admin, editor):
    with pytest.raises(Forbidden):
        retention.cleanup_history(db.session, editor.user, 30, utcnow())
    assert api_as(editor).post("/cleanup", {"olderThanDays": 30}).status_code == 403
    assert retention.cleanup_history(db.session, admin.user, 30, utcnow()) == 0
    with pytest.raises(Invalid) as refused:
        retention.cleanup_history(db.session, admin.user, 0, utcnow())
    assert set(refused.value.fields) == {"older_than_days"}


def test_retry_now_commits_even_when_redis_is_down(editor, make_job, rec, monkeypatch):
    item = failed_run(make_job(editor, retry_count=2, retry_delay_seconds=3600))

    def down(*_args, **_kwargs):
        raise RedisConnectionError("down")

    monkeypatch.setattr(rec, "apply", down)
    retried = retry_queue.retry_now(db.session, editor.user, item.id, utcnow(), rec)
    assert not retried.queued and "unreachable" in retried.message
    db.session.rollback()
    [attempt] = retried.executions
    assert db.session.get(Execution, attempt.id).status == "queued"  # reconcile will send it
    assert db.session.get(RetryItem, item.id).status == "done"
