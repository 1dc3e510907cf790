"""The `scheduler` process: lead through the lease, fire due slots, reconcile.

Several may run; one leads and the others stand by, taking over when the
lease lapses. Only the leader moves due slots, arms the next ones and
reconciles, and each of its transactions is fenced by the lease token.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from flask import Flask
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from app import telemetry
from app.engine.loop import GracefulLoop
from app.extensions import db
from app.models import Execution, ExecutionStatus, InstanceRole, ScheduledJob, utcnow
from app.queues import recurrence
from app.services.batches import chunks
from app.services.ledger import firing, instances, leadership, reconcile, reconcile_log
from app.services.ledger.firing import Due, Plan
from app.services.ledger.recurrence import Fenced, Recurrence, execution_id_of
from app.version import __version__

log = logging.getLogger("almanac.scheduler")
FULL_RECONCILE_EVERY = 10
# Wake this long after a slot's second begins: rq-scheduler's query counts
# whole seconds, so waking a hair early would find nothing due.
WAKE_MARGIN = 0.002


class SchedulerProcess(GracefulLoop):
    """One scheduler instance; ``run()`` loops until ``stop()`` (or SIGTERM)."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app
        self.poll = float(app.config["SCHEDULER_POLL_SECONDS"])
        self.reconcile_every = timedelta(seconds=float(app.config["RECONCILE_SECONDS"]))
        self.lease_ttl = timedelta(seconds=float(app.config["LEASE_SECONDS"]))
        self.beat_every = timedelta(seconds=float(app.config["HEARTBEAT_SECONDS"]))
        self.worker_lost_after = timedelta(seconds=float(app.config["WORKER_LOST_SECONDS"]))
        self.max_abandoned = int(app.config["RETRY_MAX_ABANDONED"])
        self.run_all_cap = int(app.config["MISFIRE_RUN_ALL_CAP"])
        self.retry_wait_limit = timedelta(seconds=float(app.config["RETRY_WAIT_LIMIT_SECONDS"]))
        self.lease: leadership.Lease | None = None
        self.instance_id: uuid.UUID | None = None
        self._next_beat = self._next_reconcile = self._next_renew = datetime.min.replace(
            tzinfo=utcnow().tzinfo
        )
        self._passes = 0
        self._behind = False

    def run(self) -> None:
        """Loop: heartbeat, lead or stand by, fire, reconcile."""
        with self.app.app_context():
            self.recurrence = recurrence()
            instance = instances.register(
                db.session, InstanceRole.SCHEDULER.value, __version__, utcnow()
            )
            self.instance_id = instance.id
            self._show_leadership()
            log.info("scheduler %s started (poll %.2fs)", instance.id, self.poll)
            try:
                while not self.stopping:
                    self._pass()
                    self.pause(self.until_next_pass())
            finally:
                self._shutdown()

    def _pass(self) -> None:
        """One iteration; database or Redis trouble is logged and retried next pass."""
        now = utcnow()
        try:
            self._beat(now)
            if self.lease is None:
                self._try_lead(now)
            if self.lease is not None:
                self._lead(now)
        except leadership.LostLeadership as error:
            log.warning("lost leadership: %s", error)
            db.session.rollback()
            self.lease = None
            self._show_leadership()
        except (SQLAlchemyError, RedisError, OSError):
            log.exception("scheduler pass failed (database or Redis); retrying")
            self._recover()
        except Exception:
            # A bug must not stop scheduling for every job: log it loudly, go on.
            log.exception("scheduler pass failed unexpectedly; retrying")
            self._recover()

    def until_next_pass(self) -> float:
        """The poll, or less when the leader's next slot falls due sooner.

        A due slot is moved within milliseconds of its time instead of up to a
        poll later, and the poll still paces edits, held runs and heartbeats.
        A slot already due after a pass (it fell due during the pass) gets one
        pass at once; one still due after that waits for the poll, so a slot
        that cannot be moved never makes the loop spin.
        """
        if self.lease is None:
            return self.poll
        try:
            first = self.recurrence.first_due_at()
        except (RedisError, OSError):
            return self.poll  # the next pass logs and recovers
        if first is None:
            return self.poll
        wait = first - time.time()
        if wait > 0:
            self._behind = False
            return min(self.poll, wait + WAKE_MARGIN)
        wait = self.poll if self._behind else 0.0
        self._behind = True
        return wait

    def _recover(self) -> None:
        """Roll back; reconcile on the next pass, which repairs what the failed one left."""
        db.session.rollback()
        self._next_reconcile = utcnow()
        self.pause(min(self.poll * 4, 2.0))

    def _beat(self, now: datetime) -> None:
        if now >= self._next_beat:
            assert self.instance_id is not None
            instances.beat(db.session, self.instance_id, now)
            self._next_beat = now + self.beat_every

    def _try_lead(self, now: datetime) -> None:
        assert self.instance_id is not None
        self.lease = leadership.try_acquire(db.session, self.instance_id, now, self.lease_ttl)
        if self.lease is not None and not self.recurrence.claim_token(self.lease.token):
            log.warning("lease token %d is older than the one in Redis", self.lease.token)
            self.lease = None
        if self.lease is not None:
            log.info("leading with fencing token %d", self.lease.token)
            self._show_leadership()
            self._next_reconcile = now  # reconcile at once (fully) on taking over
            self._passes = 0
            self._next_renew = now + self.lease_ttl / 3

    def _lead(self, now: datetime) -> None:
        assert self.lease is not None
        if now >= self._next_renew:
            self.lease = leadership.renew(db.session, self.lease, now, self.lease_ttl)
            self._next_renew = now + self.lease_ttl / 3
        if now >= self._next_reconcile:
            self.reconcile_once(now)
            self._next_reconcile = now + self.reconcile_every
        self.tick(now)

    def reconcile_once(self, now: datetime) -> reconcile.Report:
        """A full reconcile pass, fenced."""
        # A full pass on taking over and every tenth period; in between, a
        # cheap consistency check decides (see reconcile.reconcile).
        full = self._passes % FULL_RECONCILE_EVERY == 0
        self._passes += 1
        plan, report = reconcile.reconcile(
            db.session,
            self.recurrence,
            now,
            self.instance_id,
            self.worker_lost_after,
            full=full,
            max_abandoned=self.max_abandoned,
            run_all_cap=self.run_all_cap,
            retry_wait_limit=self.retry_wait_limit,
        )
        instances.mark_stale(db.session, now, self.beat_every * 6)
        self._commit(plan, now)
        if report.counts:
            log.info("reconcile: %s", report.summary())
        self._record_reconcile(now, report)
        return report

    def _record_reconcile(self, now: datetime, report: reconcile.Report) -> None:
        """Metrics, and the report the status page shows (a Redis hiccup only loses that)."""
        changes = dict(report.counts)
        telemetry.reconciled(now, changes)
        try:
            reconcile_log.record_reconcile(self.recurrence.connection, now, changes)
        except (RedisError, OSError) as error:
            log.warning("could not record the reconcile report in Redis: %s", error)

    def _show_leadership(self) -> None:
        """The leader gauges of this instance follow every change of role."""
        if self.instance_id is not None:
            token = self.lease.token if self.lease is not None else None
            telemetry.leadership(str(self.instance_id), token)

    def tick(self, now: datetime) -> None:
        """Fire what is due first (moved at once), then plan and arm the next slots."""
        plan = Plan()
        self._apply_changes(now, plan)
        due = load_due(self.recurrence)
        now = utcnow()  # after the due query: a slot is never stamped before its time
        if due:
            firing.fire(db.session, due, now, self.instance_id, plan, run_all_cap=self.run_all_cap)
        # Every pass, so a held run starts within a poll of its job freeing
        # (catch-up runs drain faster than slots fall due); the query reads
        # only the small partial index of held rows.
        firing.release_held(db.session, now, plan)
        session = db.session
        if plan.is_empty() and not (session.new or session.dirty or session.deleted):
            session.rollback()  # an idle pass writes nothing, so it costs next to nothing
            return
        self._move_first(plan)
        firing.mark_moved(db.session, plan, now)  # after the move: lateness does not wait
        self._commit(plan, now)
        if plan.next:
            following = Plan(next=plan.next)
            firing.plan_next_many(db.session, self.instance_id, following, now)
            self._commit(following, now)

    def _move_first(self, plan: Plan) -> None:
        """Move due slots into their queues before the commit: lateness is not
        made to wait for it. Safe, because their rows already exist (a worker
        may claim a pending row) and the move is fenced in Redis; the rest of
        the plan (new catch-up rows, arming) waits for the commit."""
        assert self.lease is not None
        if plan.move:
            try:
                self.recurrence.apply(self.lease.token, move=plan.move)
            except Fenced as error:
                if not error.forgotten:
                    raise leadership.LostLeadership(str(error)) from None
                return  # Redis was flushed: _commit re-claims and moves them
            plan.move = []

    def _apply_changes(self, now: datetime, plan: Plan) -> None:
        """Jobs edited, paused, resumed or deleted since the last pass."""
        changed = self.recurrence.take_changed()
        if changed:
            reconcile.sync_jobs(
                db.session,
                self.recurrence,
                changed,
                now,
                self.instance_id,
                plan,
                run_all_cap=self.run_all_cap,
            )

    def _commit(self, plan: Plan, now: datetime) -> None:
        """Fence, commit, then make Redis follow (fenced there too)."""
        assert self.lease is not None
        leadership.fence(db.session, self.lease, now)
        db.session.commit()
        telemetry.slots_fired(plan.fired)  # committed: these slots did fire
        for task in plan.lost:  # how long a lost run really ran is unknown
            telemetry.run_ended(task, ExecutionStatus.FAILED.value, None)
        plan.fired, plan.lost = [], []
        try:
            carry_out(self.recurrence, plan, self.lease.token)
        except Fenced as error:
            if not error.forgotten:
                raise leadership.LostLeadership(str(error)) from None
            self._reclaim_token(now)  # Redis was flushed: prove the lease, claim again
            carry_out(self.recurrence, plan, self.lease.token)

    def _reclaim_token(self, now: datetime) -> None:
        assert self.lease is not None
        leadership.fence(db.session, self.lease, now)
        db.session.commit()
        if not self.recurrence.claim_token(self.lease.token):
            raise leadership.LostLeadership("a newer leader claimed Redis")

    def _shutdown(self) -> None:
        db.session.rollback()
        if self.lease is not None:
            leadership.release(db.session, self.lease)
            self.lease = None
            self._show_leadership()
        if self.instance_id is not None:
            instances.stop(db.session, self.instance_id, utcnow())
        telemetry.process_ended()  # this instance's leader series leave the scrape
        log.info("scheduler stopped %s", self.stop_reason())


def load_due(rec: Recurrence) -> list[Due]:
    """Due rq-scheduler entries with their execution rows; foreign or orphan entries dropped."""
    entries = rec.due()
    by_id = {execution_id_of(entry.id): entry for entry in entries}
    ids = [key for key in by_id if key is not None]
    rows: dict[object, Execution] = {}
    # The jobs' task and type are the same few rows for thousands of due slots:
    # found in the identity map (at most one query each), not joined per row.
    job = joinedload(Execution.job)
    options = job.lazyload(ScheduledJob.task_function), job.lazyload(ScheduledJob.job_type)
    for part in chunks(ids):
        chunk = db.session.scalars(
            select(Execution).options(*options).where(Execution.id.in_(part))
        ).all()
        rows.update((row.id, row) for row in chunk)
    due = []
    for key, entry in by_id.items():
        row = rows.get(key)
        if row is None:
            rec.drop(entry.id)
        else:
            due.append(Due(row, entry))
    return due


def carry_out(rec: Recurrence, plan: Plan, token: int | None) -> None:
    """The Redis half of a committed plan, fenced by the leader's token."""
    rec.apply(
        token,
        drop=plan.drop,
        disarm=plan.disarm,
        move=plan.move,
        enqueue=plan.enqueue,
        arm=plan.arm,
    )
