"""Coded outcomes beside the free text: how a completed warm transfer helped the caller, and why a
declined or given-up one did not. Nullable: tickets closed before this carry no code.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("transfer_tickets", "ticket_events"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("outcome_code", sa.String(length=24), nullable=True))


def downgrade() -> None:
    for table in ("ticket_events", "transfer_tickets"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("outcome_code")
