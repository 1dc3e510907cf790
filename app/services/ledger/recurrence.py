"""Every call into rq-scheduler and RQ's enqueueing lives here.

Almanac computes each occurrence itself and arms it in rq-scheduler's sorted
set at its UTC instant under an id derived from the execution row that stands
for the slot. rq-scheduler's own ``cron()`` and interval repetition are not
used: no per-job time zone, drifting intervals, one id reused for every run.
Swapping the recurrence engine later is a change to this module only.

The expensive RQ work happens when a slot is armed: its job hash is saved
whole then. Firing only flips the hash to queued and moves the id from the
sorted set onto its queue, so a burst of due slots costs a few small Redis
commands each, not a fetch, a deserialisation and a full save per job.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import WatchError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.utils import now as rq_now
from rq.utils import utcformat
from rq_scheduler import Scheduler
from rq_scheduler.utils import to_unix

from app.services.batches import chunks

ENTRY_FUNC = "app.entrypoints.run_execution"
DELIVERY_FUNC = "app.entrypoints.deliver_webhook"
WEBHOOK_QUEUE = "webhooks"
_ID_PREFIX = "almanac-"
_DELIVERY_PREFIX = "almanac-hook-"
_DIRTY_KEY = "almanac:dirty-jobs"
_LEADER_KEY = "almanac:leader-token"
# Compare-and-set: only a higher fencing token may replace the stored one.
_CLAIM_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current == false or tonumber(current) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return tonumber(current) == tonumber(ARGV[1]) and 1 or 0
"""


# RQ's enqueue of jobs saved whole at arm time, for a batch of due entries:
# flip each hash to queued, list its queue, push its id, take it off the
# sorted set. ARGV: the enqueue stamp, the job and queue key prefixes, then
# (id, queue) pairs. One command per batch instead of four per job.
_MOVE_SCRIPT = """
local stamp, job_prefix, queue_prefix = ARGV[1], ARGV[2], ARGV[3]
for i = 4, #ARGV, 2 do
  local id, queue_key = ARGV[i], queue_prefix .. ARGV[i + 1]
  redis.call('HSET', job_prefix .. id, 'status', 'queued', 'enqueued_at', stamp)
  redis.call('SADD', KEYS[2], queue_key)
  redis.call('RPUSH', queue_key, id)
  redis.call('ZREM', KEYS[1], id)
end
return (#ARGV - 3) / 2
"""


class Fenced(RuntimeError):
    """A leader write refused: another scheduler holds a newer token (or Redis forgot it)."""

    def __init__(self, message: str, *, forgotten: bool = False) -> None:
        super().__init__(message)
        self.forgotten = forgotten


_PIPELINE_BATCH = 500
_MOVE_BATCH = 500  # due entries per script call
# Finished RQ jobs expire after a minute: the database keeps the record of
# every run. Not 0: RQ then deletes the job at the end of each run, which
# first reads its execution records back (round trips a noop run felt).
_RESULT_TTL = 60
_FAILURE_TTL = 24 * 3600


_WAITING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class JsonJob(Job):
    """An RQ job serialised as JSON, never pickle."""

    def __init__(
        self, id: str | None = None, connection: Redis | None = None, serializer: Any = None
    ):
        super().__init__(id, connection=connection, serializer=serializer or JSONSerializer)


def rq_job_id(execution_id: uuid.UUID) -> str:
    """The RQ job id of an execution: derived, so a re-arm or re-enqueue reuses it."""
    return f"{_ID_PREFIX}{execution_id}"


def execution_id_of(job_id: str) -> uuid.UUID | None:
    """The execution an RQ job id stands for, or None for foreign entries."""
    if not job_id.startswith(_ID_PREFIX):
        return None
    try:
        return uuid.UUID(job_id.removeprefix(_ID_PREFIX))
    except ValueError:
        return None


@dataclass(frozen=True)
class Arm:
    """One occurrence to arm: which execution, when, on which queue, for how long."""

    execution_id: uuid.UUID
    fire_at: datetime
    queue: str
    timeout: int


@dataclass(frozen=True)
class Armed:
    """A due rq-scheduler entry: its RQ job id and the queue it was armed for."""

    id: str
    queue: str


class Recurrence:
    """rq-scheduler and RQ queues on one Redis connection."""

    def __init__(self, connection: Redis) -> None:
        self.connection = connection
        self.scheduler = Scheduler(connection=connection, job_class=JsonJob)
        self._move_script = connection.register_script(_MOVE_SCRIPT)

    def _job(self, arm: Arm) -> Job:
        job: Job = self.scheduler._create_job(
            ENTRY_FUNC,
            args=[str(arm.execution_id)],
            id=rq_job_id(arm.execution_id),
            timeout=arm.timeout,
            result_ttl=_RESULT_TTL,
            queue_name=arm.queue,
            commit=False,
        )
        job.failure_ttl = _FAILURE_TTL
        return job

    def claim_token(self, token: int) -> bool:
        """Record our fencing token in Redis; False if a newer leader already did."""
        return bool(self.connection.eval(_CLAIM_SCRIPT, 1, _LEADER_KEY, token))

    def apply(
        self,
        token: int | None,
        *,
        drop: Sequence[str] = (),
        disarm: Sequence[uuid.UUID] = (),
        move: Sequence[Armed] = (),
        enqueue: Sequence[Arm] = (),
        arm: Sequence[Arm] = (),
    ) -> None:
        """Carry out a leader's Redis writes, fenced by its token.

        Each batch runs in one MULTI/EXEC that WATCHes the stored token, so an
        ex-leader that wakes up late cannot arm, move or drop anything once a
        newer leader claimed the token. Removals come first: an execution's RQ
        id is derived from it, so a slot dropped and then enqueued directly (a
        catch-up run) or disarmed and re-armed reuses the same id.
        """
        ops: list[Callable[[Pipeline], object]] = []
        ops += [partial(self._drop, job_id) for job_id in drop]
        ops += [partial(self._drop, rq_job_id(e)) for e in disarm]
        ops += [partial(self._move, part) for part in chunks(list(move), _MOVE_BATCH)]
        ops += [partial(self._enqueue, a) for a in enqueue]
        ops += [partial(self._arm, a) for a in arm]
        for batch in chunks(ops, _PIPELINE_BATCH):
            self._fenced(token, batch)

    def _fenced(self, token: int | None, ops: Sequence[Callable[[Pipeline], object]]) -> None:
        with self.connection.pipeline() as pipe:
            try:
                if token is not None:
                    pipe.watch(_LEADER_KEY)  # type: ignore[no-untyped-call]
                    stored = pipe.get(_LEADER_KEY)
                    if stored is None:
                        raise Fenced("the leader token is gone from Redis", forgotten=True)
                    if int(stored) != token:
                        raise Fenced(f"token {token} superseded by {int(stored)}")
                pipe.multi()
                for op in ops:
                    op(pipe)
                pipe.execute()
            except WatchError:
                raise Fenced(f"token {token} changed during the write") from None

    def _drop(self, job_id: str, pipe: Pipeline) -> None:
        pipe.zrem(self.scheduler.scheduled_jobs_key, job_id)
        pipe.delete(JsonJob.key_for(job_id))

    def _move(self, entries: Sequence[Armed], pipe: Pipeline) -> None:
        """rq-scheduler's move of due entries into their queues, inside our transaction.

        What ``Queue.enqueue_job`` does for a job saved whole at arm time (no
        dependencies, no TTL, not deferred): status and enqueue time (stamped
        here, as RQ stamps it before its pipeline runs), the queue listed, the
        id pushed; then the entry leaves the sorted set (``_MOVE_SCRIPT``).
        """
        args: list[str] = [
            utcformat(rq_now()),
            JsonJob.redis_job_namespace_prefix,
            Queue.redis_queue_namespace_prefix,
        ]
        for entry in entries:
            args += (entry.id, entry.queue)
        keys = [self.scheduler.scheduled_jobs_key, Queue.redis_queues_keys]
        self._move_script(keys=keys, args=args, client=pipe)

    def _enqueue(self, arm: Arm, pipe: Pipeline) -> None:
        self._queue(arm.queue).enqueue_job(self._job(arm), pipeline=pipe)

    def _arm(self, arm: Arm, pipe: Pipeline) -> None:
        job = self._job(arm)
        job.save(pipeline=pipe)
        pipe.zadd(self.scheduler.scheduled_jobs_key, {job.id: _score(arm.fire_at)})

    def _queue(self, name: str) -> Queue:
        return Queue(name, connection=self.connection, job_class=JsonJob, serializer=JSONSerializer)

    def due(self) -> list[Armed]:
        """Armed entries whose time has come (rq-scheduler's query), each with its queue.

        One pipelined read of each job hash's queue, not the whole hash: an
        entry whose hash is gone is removed and left out.
        """
        until = to_unix(datetime.now(UTC).replace(tzinfo=None))
        ids = [
            _text(i)
            for i in self.connection.zrangebyscore(self.scheduler.scheduled_jobs_key, 0, until)
        ]
        if not ids:
            return []
        with self.connection.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(JsonJob.key_for(job_id), "origin")
            queues = pipe.execute()
        orphans = [job_id for job_id, queue in zip(ids, queues, strict=True) if queue is None]
        if orphans:
            self.connection.zrem(self.scheduler.scheduled_jobs_key, *orphans)
        return [
            Armed(job_id, _text(queue))
            for job_id, queue in zip(ids, queues, strict=True)
            if queue is not None
        ]

    def first_due_at(self) -> float | None:
        """When the earliest armed entry falls due (UNIX seconds), or None when none is armed."""
        first = self.connection.zrange(self.scheduler.scheduled_jobs_key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def drop(self, job_id: str) -> None:
        """Remove one armed entry without running it (unfenced: orphans only)."""
        self.apply(None, drop=[job_id])

    def is_armed(self, job_id: str) -> bool:
        """True when an entry is armed in rq-scheduler."""
        return self.connection.zscore(self.scheduler.scheduled_jobs_key, job_id) is not None

    def armed_count(self) -> int:
        """How many entries rq-scheduler holds."""
        return int(self.connection.zcard(self.scheduler.scheduled_jobs_key))

    def armed(self) -> dict[str, float]:
        """Every armed entry and its score (UNIX seconds)."""
        entries: dict[str, float] = {}
        cursor = 0
        while True:
            cursor, chunk = self.connection.zscan(
                self.scheduler.scheduled_jobs_key, cursor, count=5000
            )
            entries.update((_text(key), float(score)) for key, score in chunk)
            if cursor == 0:
                return entries

    def enqueue_now(self, arm: Arm) -> None:
        """Put an execution straight into its RQ queue (Run now; no leader needed)."""
        self._queue(arm.queue).enqueue_job(self._job(arm))

    def job_waiting(self, execution_id: uuid.UUID) -> bool:
        """True while RQ still means to run the job of an execution (queued or started).

        False when it vanished (a flushed Redis) or RQ gave up on it (the entry
        point failed before it could claim the run, say on a database hiccup).
        """
        try:
            job = JsonJob.fetch(rq_job_id(execution_id), connection=self.connection)
        except NoSuchJobError:
            return False
        return job.get_status(refresh=False) in _WAITING

    def enqueue_deliveries(self, delivery_ids: Sequence[uuid.UUID], timeout: float) -> None:
        """Put webhook deliveries into the ``webhooks`` queue, one transaction per batch.

        The RQ timeout is the request's plus a margin: a slow receiver never
        holds a worker longer than that.
        """
        ops = [partial(self._enqueue_delivery, i, timeout) for i in delivery_ids]
        for batch in chunks(ops, _PIPELINE_BATCH):
            self._fenced(None, batch)

    def _enqueue_delivery(self, delivery_id: uuid.UUID, timeout: float, pipe: Pipeline) -> None:
        queue = self._queue(WEBHOOK_QUEUE)
        job = queue.create_job(
            DELIVERY_FUNC,
            args=[str(delivery_id)],
            job_id=f"{_DELIVERY_PREFIX}{delivery_id}",
            timeout=int(timeout) + 15,
            result_ttl=_RESULT_TTL,
            failure_ttl=_FAILURE_TTL,
        )
        queue.enqueue_job(job, pipeline=pipe)

    def mark_changed(self, job_id: uuid.UUID) -> None:
        """Tell the leading scheduler a job's schedule changed (picked up next poll)."""
        self.connection.sadd(_DIRTY_KEY, str(job_id))

    def take_changed(self, limit: int = 1000) -> list[uuid.UUID]:
        """Pop the ids of jobs whose schedule changed."""
        raw: Any = self.connection.spop(_DIRTY_KEY, limit) or []
        return [uuid.UUID(_text(item)) for item in raw]


def _score(moment: datetime) -> int:
    """rq-scheduler scores in whole seconds; rounding up means never early."""
    seconds = moment.timestamp()
    whole = int(seconds)
    return whole if whole == seconds else whole + 1


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
