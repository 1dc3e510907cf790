"""The calendar counts a window's runs per day (or hour) and outcome in one GROUP BY: an index
on (scheduled_for, status) answers it from the index alone (an index-only scan), without
reading a million rows of the table.

Revision ID: 0011_calendar_run_counts_index
Revises: 0010_calendar_feed_tokens
Create Date: 2026-12-06 01:30:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_calendar_run_counts_index"
down_revision = "0010_calendar_feed_tokens"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_executions_scheduled_status", "executions", ["scheduled_for", "status"])


def downgrade():
    op.drop_index("ix_executions_scheduled_status", table_name="executions")
