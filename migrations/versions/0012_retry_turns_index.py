"""A job's retries take turns: the retry claim asks, for each due item, whether an older
item of the same job is due or one is launching. Indexed on the job alone, PostgreSQL
without statistics (a burst of new items, before autovacuum analyses them) answered it by
scanning every due item per due item: a claim of 200 out of 10,000 took 8-15 s. An index
led by (job_id, status, next_try_at) makes each question one index probe; it also serves
what the job-only index served.

Revision ID: 0012_retry_turns_index
Revises: 0011_calendar_run_counts_index
Create Date: 2026-12-06 08:30:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_retry_turns_index"
down_revision = "0011_calendar_run_counts_index"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_retry_items_job_status_next_try", "retry_items", ["job_id", "status", "next_try_at"]
    )
    op.drop_index("ix_retry_items_job_id", table_name="retry_items")


def downgrade():
    op.create_index("ix_retry_items_job_id", "retry_items", ["job_id"])
    op.drop_index("ix_retry_items_job_status_next_try", table_name="retry_items")
