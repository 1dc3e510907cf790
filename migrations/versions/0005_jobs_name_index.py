"""An index on the jobs' names: the jobs table's default order without a sort of every job.

Revision ID: 0005_jobs_name_index
Revises: 0004_sessions_job_names
Create Date: 2026-12-05 00:20:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_jobs_name_index"
down_revision = "0004_sessions_job_names"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_scheduled_jobs_name_id", "scheduled_jobs", ["name", "id"])


def downgrade():
    op.drop_index("ix_scheduled_jobs_name_id", table_name="scheduled_jobs")
