"""The admin page: a need category can be retired (no longer offered, still valid on old
records), and a partner webhook's test delivery is an outbox row with no ticket.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("need_categories") as batch:
        batch.add_column(sa.Column("retired_at", app.core.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("partner_notifications") as batch:
        batch.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM partner_notifications WHERE ticket_id IS NULL")
    with op.batch_alter_table("partner_notifications") as batch:
        batch.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("need_categories") as batch:
        batch.drop_column("retired_at")
