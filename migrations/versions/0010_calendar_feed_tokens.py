"""Calendar subscriptions: a revocable, hashed token per user for the ICS feed.

Revision ID: 0010_calendar_feed_tokens
Revises: 0009_audit_objects
Create Date: 2026-12-05 22:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_calendar_feed_tokens"
down_revision = "0009_audit_objects"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_feed_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("calendar_feed_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_calendar_feed_tokens_user_id", ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("calendar_feed_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_calendar_feed_tokens_user_id")
    op.drop_table("calendar_feed_tokens")
