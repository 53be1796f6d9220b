"""A caller's data under UK GDPR: a call can be held (restricted: kept past its retention and
never erased until the hold is lifted, e.g. for a complaint or the police), and the audit trail is
searchable by what was read (the subject) and by whom.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("held_at", app.core.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("held_reason", sa.String(length=200), nullable=True))
    op.create_index("ix_audit_events_actor", "audit_events", ["actor", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_actor", table_name="audit_events")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("held_reason")
        batch.drop_column("held_at")
