"""Audit events name their object (job, webhook, user, token or settings), not only a job.

Revision ID: 0009_audit_objects
Revises: 0009_runs_failed_indexes
Create Date: 2026-12-05 23:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_audit_objects"
down_revision = "0009_runs_failed_indexes"
branch_labels = None
depends_on = None

_EVENTS = sa.table(
    "audit_events",
    sa.column("job_id", sa.Uuid),
    sa.column("object_type", sa.String),
    sa.column("object_id", sa.Uuid),
    sa.column("action", sa.String),
)


def upgrade():
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(
            sa.Column("object_type", sa.String(length=20), server_default="job", nullable=False)
        )
        batch.add_column(sa.Column("object_id", sa.Uuid(), nullable=True))
    # Every event so far was a job's, except the defaults for new jobs (a setting).
    op.execute(
        _EVENTS.update().where(_EVENTS.c.job_id.isnot(None)).values(object_id=_EVENTS.c.job_id)
    )
    op.execute(
        _EVENTS.update()
        .where(_EVENTS.c.action == "job_defaults_updated")
        .values(object_type="settings")
    )
    op.create_index(
        "ix_audit_events_object",
        "audit_events",
        ["object_type", "object_id", "created_at"],
        unique=False,
    )
    # A rare type (webhooks among many job changes) without walking the whole trail.
    op.create_index(
        "ix_audit_events_type_created",
        "audit_events",
        ["object_type", "created_at", "id"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_audit_events_type_created", table_name="audit_events")
    op.drop_index("ix_audit_events_object", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("object_id")
        batch.drop_column("object_type")
