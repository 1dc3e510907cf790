"""Retries and webhook deliveries: chain links, poison-pill count, per-attempt log.

Revision ID: 0002_retries_webhooks
Revises: 0001_initial
Create Date: 2026-12-03 10:14:56.398324

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002_retries_webhooks"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_RETRIES_ONLY = sa.text("triggered_by = 'retry'")


def upgrade():
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_executions_retry_of",
            ["retry_of"],
            unique=True,
            sqlite_where=_RETRIES_ONLY,
            postgresql_where=_RETRIES_ONLY,
        )

    with op.batch_alter_table("retry_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("abandoned", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("retry_execution_id", sa.Uuid(), nullable=True))
        batch_op.drop_index("ix_retry_items_execution_id")
        batch_op.create_index(
            "ix_retry_items_retry_execution_id", ["retry_execution_id"], unique=False
        )
        batch_op.create_index("uq_retry_items_execution_id", ["execution_id"], unique=True)
        batch_op.create_foreign_key(
            "fk_retry_items_retry_execution_id",
            "executions",
            ["retry_execution_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("request_headers", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("attempt_log", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replay_of", sa.Uuid(), nullable=True))
        batch_op.create_index("ix_webhook_deliveries_execution_id", ["execution_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_webhook_deliveries_replay_of",
            "webhook_deliveries",
            ["replay_of"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_webhook_deliveries_replay_of", type_="foreignkey")
        batch_op.drop_index("ix_webhook_deliveries_execution_id")
        batch_op.drop_column("replay_of")
        batch_op.drop_column("sending_since")
        batch_op.drop_column("attempt_log")
        batch_op.drop_column("request_headers")
        batch_op.drop_column("url")

    with op.batch_alter_table("retry_items", schema=None) as batch_op:
        batch_op.drop_constraint("fk_retry_items_retry_execution_id", type_="foreignkey")
        batch_op.drop_index("uq_retry_items_execution_id")
        batch_op.drop_index("ix_retry_items_retry_execution_id")
        batch_op.create_index("ix_retry_items_execution_id", ["execution_id"], unique=False)
        batch_op.drop_column("retry_execution_id")
        batch_op.drop_column("abandoned")

    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_executions_retry_of",
            sqlite_where=_RETRIES_ONLY,
            postgresql_where=_RETRIES_ONLY,
        )
