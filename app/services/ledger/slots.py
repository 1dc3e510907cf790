"""Bulk writes of slot rows and next run times (a cold start arms 100,000 jobs)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.models import Execution, ScheduledJob
from app.services.batches import chunks

_SCHEDULER_SLOT = text("triggered_by = 'scheduler'")
# Rows per array statement on PostgreSQL (arrays are not bound by the parameter limit).
_PG_CHUNK = 10_000

# PostgreSQL takes the rows as arrays: a tiny statement instead of one with
# 8,000 placeholders, which the driver would spend longer converting than sending.
_PG_INSERT_SLOTS = text("""
    INSERT INTO executions
        (id, rq_job_id, job_id, status, scheduled_for, triggered_by, scheduler_instance_id,
         attempt, created_at)
    SELECT * FROM unnest(
        CAST(:ids AS uuid[]), CAST(:rq_job_ids AS varchar[]), CAST(:job_ids AS uuid[]),
        CAST(:statuses AS varchar[]), CAST(:slots AS timestamptz[]),
        CAST(:triggers AS varchar[]), CAST(:instances AS uuid[]), CAST(:attempts AS int[]),
        CAST(:created AS timestamptz[]))
    ON CONFLICT (job_id, scheduled_for) WHERE triggered_by = 'scheduler' DO NOTHING
    RETURNING id
""")
_PG_STORE_NEXT = text("""
    UPDATE scheduled_jobs AS j SET next_run_time = v.next_run_time
    FROM unnest(CAST(:ids AS uuid[]), CAST(:times AS timestamptz[])) AS v(id, next_run_time)
    WHERE j.id = v.id
""")
_SLOT_COLUMNS = {
    "ids": "id",
    "rq_job_ids": "rq_job_id",
    "job_ids": "job_id",
    "statuses": "status",
    "slots": "scheduled_for",
    "triggers": "triggered_by",
    "instances": "scheduler_instance_id",
    "attempts": "attempt",
    "created": "created_at",
}


def store_next_times(connection: Connection, values: Sequence[Mapping[str, Any]]) -> None:
    """Write many jobs' next_run_time at once."""
    if not values:
        return
    if connection.dialect.name == "postgresql":
        for part in chunks(values, _PG_CHUNK):
            ids = [v["id"] for v in part]
            connection.execute(
                _PG_STORE_NEXT, {"ids": ids, "times": [v["next_run_time"] for v in part]}
            )
        return
    table = ScheduledJob.__table__
    connection.execute(
        update(table)
        .where(table.c.id == bindparam("job_id"))
        .values(next_run_time=bindparam("next_run_time")),
        [{"job_id": v["id"], "next_run_time": v["next_run_time"]} for v in values],
    )


def insert_slots(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> set[uuid.UUID]:
    """Insert slot rows, skipping slots that exist; returns the ids inserted."""
    if not rows:
        return set()
    if connection.dialect.name == "postgresql":
        inserted: set[uuid.UUID] = set()
        for part in chunks(rows, _PG_CHUNK):
            arrays = {key: [row[col] for row in part] for key, col in _SLOT_COLUMNS.items()}
            inserted.update(connection.execute(_PG_INSERT_SLOTS, arrays).scalars())
        return inserted
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    table = Execution.__table__
    statement = (
        insert(table)
        .on_conflict_do_nothing(
            index_elements=["job_id", "scheduled_for"], index_where=_SCHEDULER_SLOT
        )
        .returning(table.c.id)
    )
    inserted = set()
    for part in chunks(rows):
        inserted.update(connection.execute(statement, part).scalars())
    return inserted
