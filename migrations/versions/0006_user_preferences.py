"""Users keep their language, display zone and theme across sessions and devices.

Revision ID: 0006_user_preferences
Revises: 0005_jobs_name_index
Create Date: 2026-12-05 00:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_user_preferences"
down_revision = "0005_jobs_name_index"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("preferences", sa.JSON(), nullable=True))


def downgrade():
    op.drop_column("users", "preferences")
