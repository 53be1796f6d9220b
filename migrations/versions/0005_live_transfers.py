"""Live warm transfers: the partner's leg of the caller's conference and how far the handover got.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfer_tickets") as batch:
        batch.add_column(sa.Column("live_state", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("live_call_sid", sa.String(length=64), nullable=True))
        batch.create_check_constraint(
            "live_state_known",
            "live_state IS NULL OR live_state IN ('ringing', 'joined', 'handed-over', 'no-answer', 'failed')",
        )


def downgrade() -> None:
    with op.batch_alter_table("transfer_tickets") as batch:
        batch.drop_constraint("live_state_known", type_="check")
        batch.drop_column("live_call_sid")
        batch.drop_column("live_state")
