"""Retry items keep their error's group key, so the failed-tasks page groups by cause in SQL;
and an index lists them newest first without sorting the whole table.

Revision ID: 0009_runs_failed_indexes
Revises: 0008_job_defaults
Create Date: 2026-12-05 22:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

from app.errorgroups import group_key

# revision identifiers, used by Alembic.
revision = "0009_runs_failed_indexes"
down_revision = "0008_job_defaults"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade():
    op.add_column("retry_items", sa.Column("error_group", sa.String(length=255), nullable=True))
    op.create_index("ix_retry_items_status_group", "retry_items", ["status", "error_group"])
    op.create_index("ix_retry_items_created_id", "retry_items", ["created_at", "id"])
    _backfill()


def _backfill():
    """Existing items get their key (computed in Python: the same rule as new ones)."""
    bind = op.get_bind()
    items = sa.table(
        "retry_items",
        sa.column("id", sa.Uuid()),
        sa.column("last_error", sa.Text()),
        sa.column("error_group", sa.String()),
    )
    last = None
    while True:
        query = sa.select(items.c.id, items.c.last_error).order_by(items.c.id).limit(_BATCH)
        if last is not None:
            query = query.where(items.c.id > last)
        rows = bind.execute(query).all()
        if not rows:
            return
        for row_id, error in rows:
            if error:
                bind.execute(
                    items.update().where(items.c.id == row_id).values(error_group=group_key(error))
                )
        last = rows[-1][0]


def downgrade():
    op.drop_index("ix_retry_items_created_id", table_name="retry_items")
    op.drop_index("ix_retry_items_status_group", table_name="retry_items")
    op.drop_column("retry_items", "error_group")
