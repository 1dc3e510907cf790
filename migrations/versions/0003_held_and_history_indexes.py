"""Held runs as a column; indexes for keyset-paged history (by creation or slot) and audit.

The overlap and misfire policies used to mark a held run by prefixing its
``reason`` with "waiting for a free instance" and found such runs with LIKE.
Held is now a boolean with a small partial index; ``reason`` stays the human
account (the prefix is rewritten, and put back on downgrade).

Revision ID: 0003_held_history_indexes
Revises: 0002_retries_webhooks
Create Date: 2026-12-04 22:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003_held_history_indexes"
down_revision = "0002_retries_webhooks"
branch_labels = None
depends_on = None

_OLD_PREFIX = "waiting for a free instance"
_NEW_PREFIX = "held for a free instance"
_HELD_SQLITE = sa.text("held = 1")
_HELD_PG = sa.text("held")
_INDEXES = {
    "ix_executions_created_id": ["created_at", "id"],
    "ix_executions_job_created": ["job_id", "created_at", "id"],
    "ix_executions_scheduled_id": ["scheduled_for", "id"],
    "ix_executions_job_scheduled": ["job_id", "scheduled_for", "id"],
}


def upgrade():
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_index("ix_executions_created_at")
        batch_op.drop_index("ix_executions_job_started")
        for name, columns in _INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
        batch_op.create_index(
            "ix_executions_held",
            ["job_id", "scheduled_for"],
            unique=False,
            sqlite_where=_HELD_SQLITE,
            postgresql_where=_HELD_PG,
        )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_created_id", ["created_at", "id"], unique=False)
    _mark_held_rows()


def _mark_held_rows():
    """Held runs were pending rows whose reason began with the old prefix."""
    executions = sa.table(
        "executions",
        sa.column("status", sa.String),
        sa.column("reason", sa.String),
        sa.column("held", sa.Boolean),
    )
    start = len(_OLD_PREFIX) + 1
    # "waiting for a free instance; catch-up run: …" → "catch-up run: …; held for a free instance"
    op.execute(
        executions.update()
        .where(executions.c.reason.like(_OLD_PREFIX + "; %"))
        .values(
            held=executions.c.status == "pending",
            reason=sa.func.substr(executions.c.reason, start + 2, type_=sa.String)
            + "; "
            + _NEW_PREFIX,
        )
    )
    # "waiting for a free instance (max_instances=…)" → "held for a free instance (…)"
    op.execute(
        executions.update()
        .where(executions.c.reason.like(_OLD_PREFIX + "%"))
        .values(
            held=executions.c.status == "pending",
            reason=_NEW_PREFIX + sa.func.substr(executions.c.reason, start, type_=sa.String),
        )
    )


def downgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_created_id")
    executions = sa.table(
        "executions",
        sa.column("status", sa.String),
        sa.column("reason", sa.String),
        sa.column("held", sa.Boolean),
    )
    op.execute(
        executions.update()
        .where(executions.c.held == sa.true())
        .values(
            reason=_OLD_PREFIX + "; " + sa.func.coalesce(executions.c.reason, "", type_=sa.String)
        )
    )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_executions_held", sqlite_where=_HELD_SQLITE, postgresql_where=_HELD_PG
        )
        for name in reversed(_INDEXES):
            batch_op.drop_index(name)
        batch_op.create_index("ix_executions_job_started", ["job_id", "started_at"], unique=False)
        batch_op.create_index("ix_executions_created_at", ["created_at"], unique=False)
        batch_op.drop_column("held")
