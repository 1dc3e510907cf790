"""Sessions that sign-out can end; job names unique per owner (case-insensitive).

``users.session_epoch`` is copied into the session cookie at sign-in; bumping
it (sign-out, password, role or disable) ends every session of that user.
Live jobs' names become unique per owner whatever the case: existing clashes
are renamed "name (2)", "name (3)"… (oldest keeps its name) before the index.

Revision ID: 0004_sessions_job_names
Revises: 0003_held_history_indexes
Create Date: 2026-12-04 23:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004_sessions_job_names"
down_revision = "0003_held_history_indexes"
branch_labels = None
depends_on = None

_LIVE = sa.text("deleted_at IS NULL")
_INDEX = "uq_scheduled_jobs_owner_name"


def upgrade():
    # Plain ALTERs, not a batch: recreating "users" on SQLite trips the foreign keys
    # of every table pointing at it (SQLite adds and drops columns in place since 3.35).
    op.add_column(
        "users", sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
    )
    _rename_clashes()
    op.create_index(
        _INDEX,
        "scheduled_jobs",
        ["owner_id", sa.text("lower(name)")],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )


def _rename_clashes():
    """Give the younger of two same-named live jobs of one owner a numbered name."""
    jobs = sa.table(
        "scheduled_jobs",
        sa.column("id", sa.Uuid),
        sa.column("owner_id", sa.Uuid),
        sa.column("name", sa.String),
        sa.column("created_at", sa.DateTime),
        sa.column("deleted_at", sa.DateTime),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(jobs.c.id, jobs.c.owner_id, jobs.c.name)
        .where(jobs.c.deleted_at.is_(None))
        .order_by(jobs.c.created_at, jobs.c.id)
    ).all()
    taken = {(row.owner_id, row.name.lower()) for row in rows}
    seen = set()
    for row in rows:
        key = (row.owner_id, row.name.lower())
        if key not in seen:
            seen.add(key)
            continue
        number = 2
        while (row.owner_id, f"{row.name} ({number})".lower()) in taken:
            number += 1
        name = f"{row.name} ({number})"
        taken.add((row.owner_id, name.lower()))
        seen.add((row.owner_id, name.lower()))
        bind.execute(jobs.update().where(jobs.c.id == row.id).values(name=name))


def downgrade():
    op.drop_index(_INDEX, table_name="scheduled_jobs", sqlite_where=_LIVE, postgresql_where=_LIVE)
    op.drop_column("users", "session_epoch")
