"""The status page and the jobs page's status panel: what they show, to whom, and trouble."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.serializers import JSONSerializer

from app.extensions import db
from app.models import LeaderLease, SchedulerInstance, utcnow
from app.services.ledger.reconcile_log import record_reconcile
from app.services.status import LEASE_NAME
from tests.conftest import TEST_REDIS_URL
from tests.test_web_detail import PARTIAL, sign_in


def add_instance(role: str, *, age: float = 0.0, pid: int = 4242) -> SchedulerInstance:
    """A process row whose last heartbeat was ``age`` seconds ago."""
    now = utcnow()
    row = SchedulerInstance(
        hostname="node-1",
        pid=pid,
        role=role,
        version="1.2.3",
        started_at=now - timedelta(hours=1),
        last_heartbeat=now - timedelta(seconds=age),
    )
    db.session.add(row)
    db.session.commit()
    return row


def lead(instance: SchedulerInstance, token: int = 7) -> None:
    now = utcnow()
    db.session.add(
        LeaderLease(
            name=LEASE_NAME,
            holder_id=instance.id,
            token=token,
            expires_at=now + timedelta(seconds=30),
            acquired_at=now,
        )
    )
    db.session.commit()


@pytest.fixture
def redis_db():
    """The tests' Redis, emptied before and after."""
    redis = Redis.from_url(TEST_REDIS_URL)
    redis.flushdb()
    yield redis
    redis.flushdb()


def troubles(html: str) -> set[str]:
    import re

    return set(re.findall(r'data-trouble="([a-z_]+)"', html))


def test_healthy_cluster_shows_processes_leader_token_and_no_warning(client, viewer, redis_db):
    scheduler = add_instance("scheduler", pid=1)
    add_instance("retry", pid=2)
    worker = add_instance("worker", pid=3)
    lead(scheduler, token=7)
    sign_in(client, viewer)
    response = client.get("/status")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.startswith("<!doctype html>")
    # A worker row without an RQ registration cannot say which queues it serves: no queue
    # has runs waiting here, so that is no trouble.
    assert troubles(html) == set()
    assert 'id="troubles-none"' in html
    assert "node-1:1" in html and "token 7" in html
    assert f"node-1:{worker.pid}" in html
    assert 'data-reach="redis"><span class="badge badge-ok"' in html
    assert 'hx-trigger="every 10s"' in html


def test_partial_is_only_the_live_region_and_never_cached(client, viewer, redis_db):
    sign_in(client, viewer)
    response = client.get("/status", headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="status-live"')
    assert "<html" not in html
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


def test_every_kind_of_process_trouble_is_a_visible_warning(client, admin, redis_db):
    add_instance("worker", age=3600, pid=9)  # stale, and so no live worker either
    Queue("default", connection=redis_db, serializer=JSONSerializer).enqueue("math.floor", 1.5)
    sign_in(client, admin)
    html = client.get("/status").get_data(as_text=True)
    assert troubles(html) >= {"no_leader", "no_workers", "no_retry", "stale", "queue_unserved"}
    assert "No scheduler holds the lead." in html
    assert "Procfile: worker" in html  # what to do, not only what is wrong
    assert "worker node-1:9" in html


def test_the_page_still_renders_when_redis_is_down(app, client, viewer):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    saved = app.config["REDIS_URL"], app.extensions.pop("almanac_redis", None)
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    try:
        sign_in(client, viewer)
        response = client.get("/status")
        panel = client.get("/status/panel", headers=PARTIAL)
    finally:
        app.config["REDIS_URL"] = saved[0]
        app.extensions.pop("almanac_redis", None)
        if saved[1] is not None:
            app.extensions["almanac_redis"] = saved[1]
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "redis_down" in troubles(html)
    assert 'data-reach="redis"><span class="badge badge-bad"' in html
    assert "Queue depths are unknown while Redis does not answer." in html
    assert panel.status_code == 200 and "warnings" in panel.get_data(as_text=True)


def test_editor_counts_only_their_own_jobs_runs(
    client, editor, outsider, make_job, make_execution, redis_db
):
    mine = make_job(editor, name="Mine")
    theirs = make_job(outsider, name="Theirs")
    now = utcnow()
    make_execution(mine, status="failed", created_at=now - timedelta(minutes=5))
    for _ in range(3):
        make_execution(theirs, status="failed", created_at=now - timedelta(minutes=5))
    make_execution(mine, status="failed", created_at=now - timedelta(hours=3))  # too old
    sign_in(client, editor)
    html = client.get("/status").get_data(as_text=True)
    assert "1 in all: 1 active" in html
    panel = client.get("/status/panel", headers=PARTIAL).get_data(as_text=True)
    assert 'data-figure="failed">1<' in panel


def test_panel_links_each_figure_and_polls(client, viewer, redis_db):
    scheduler = add_instance("scheduler", pid=1)
    lead(scheduler)
    sign_in(client, viewer)
    response = client.get("/status/panel", headers=PARTIAL)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'hx-trigger="every 15s"' in html
    assert 'href="/status#workers-h" data-figure="workers">0<' in html
    assert 'href="/status#queues-h" data-figure="queued">0<' in html
    assert "node-1:1" in html
    assert response.headers["Cache-Control"] == "no-store"


def test_panel_without_htmx_is_the_status_page(client, viewer):
    sign_in(client, viewer)
    response = client.get("/status/panel")
    assert response.status_code == 302 and response.headers["Location"].endswith("/status")


def test_jobs_page_loads_the_panel_lazily_with_a_no_js_link(client, viewer, redis_db):
    sign_in(client, viewer)
    html = client.get("/").get_data(as_text=True)
    assert 'hx-get="/status/panel" hx-trigger="load delay:1s"' in html
    assert '<a href="/status">Cluster status</a>' in html


def test_status_pages_need_a_sign_in(client):
    for path in ("/status", "/status/panel"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_odd_query_strings_do_not_break_the_page(client, viewer, redis_db):
    sign_in(client, viewer)
    for query in ("?x=%ff", "?cursor=zz&page=-1", "?" + "a" * 3000):
        assert client.get("/status" + query).status_code == 200


def test_a_worker_registered_in_rq_serves_its_queues(client, admin, viewer, make_job, redis_db):
    make_job(admin, queue="reports")  # a queue the status page then watches
    instance = add_instance("worker", pid=3)
    rq_worker = Worker(["default"], name="node-1.3", connection=redis_db, serializer=JSONSerializer)
    rq_worker.register_birth()
    rq_worker.set_state("busy")
    queue = Queue("default", connection=redis_db, serializer=JSONSerializer)
    queue.enqueue("math.floor", 1.5)
    Queue("reports", connection=redis_db, serializer=JSONSerializer).enqueue("math.floor", 2.5)
    sign_in(client, viewer)
    html = client.get("/status").get_data(as_text=True)
    found = troubles(html)
    assert "no_workers" not in found and "queue_unserved" in found
    # Only "reports" is unserved: the worker (host.pid in RQ, host:pid in Almanac) takes "default".
    assert html.count('data-trouble="queue_unserved"') == 1
    assert "reports</bdi> has 1 run waiting" in html
    row = html[html.index('id="workers"') :]
    assert f"node-1:{instance.pid}" in row and ">default</bdi>" in row and ">busy</bdi>" in row


def test_jobs_with_runs_waiting_are_listed_for_those_who_see_them(
    client, editor, outsider, make_job, make_execution, redis_db
):
    mine = make_job(editor, name="Busy mine")
    theirs = make_job(outsider, name="Busy theirs")
    for job in (mine, theirs):
        make_execution(job, status="queued", queued_at=utcnow() - timedelta(seconds=30))
    sign_in(client, editor)
    html = client.get("/status").get_data(as_text=True)
    assert "<bdi>Busy mine</bdi></a> · 1 queued, 0 held back" in html
    assert "Busy theirs" not in html


def test_last_reconcile_says_when_and_what_it_changed(client, viewer, redis_db):
    sign_in(client, viewer)
    html = client.get("/status", headers=PARTIAL).get_data(as_text=True)
    assert "Not known yet" in html  # nothing recorded since Redis started
    record_reconcile(
        redis_db, utcnow() - timedelta(seconds=30), {"armed": 3, "fired": 1, "held": 0}
    )
    html = client.get("/status", headers=PARTIAL).get_data(as_text=True)
    report = html.split('id="last-reconcile">')[1].split("</dd>")[0]
    assert "armed 3" in report and "fired 1" in report and "held" not in report
    assert "ago" in report
