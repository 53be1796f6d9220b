"""Presence history: each change of a listener's presence, so the capacity model can set the
listeners needed against those who were actually on. Seeded with everyone's presence now.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "presence_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_presence_changes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_changes")),
    )
    op.create_index("ix_presence_changes_user_at", "presence_changes", ["user_id", "at"])
    op.create_index("ix_presence_changes_at", "presence_changes", ["at"])
    op.execute(
        "INSERT INTO presence_changes (user_id, status, at) SELECT user_id, status, since FROM listener_presence"
    )


def downgrade() -> None:
    op.drop_index("ix_presence_changes_at", table_name="presence_changes")
    op.drop_index("ix_presence_changes_user_at", table_name="presence_changes")
    op.drop_table("presence_changes")
