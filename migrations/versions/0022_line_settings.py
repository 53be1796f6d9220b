"""The line's own settings, kept by admins in /admin: opening hours and closures, whether it is
taking calls, the longest wait before voicemail, the position announcements' interval and what
callers hear. One row; a null column means the environment's setting or the built-in wording.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "line_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("taking_calls", sa.Boolean(), nullable=True),
        sa.Column("hours", sa.JSON(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False, server_default="Europe/London"),
        sa.Column("closures", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("max_wait_seconds", sa.Integer(), nullable=True),
        sa.Column("position_announce_seconds", sa.Integer(), nullable=True),
        sa.Column("greeting", sa.Text(), nullable=True),
        sa.Column("closed_message", sa.Text(), nullable=True),
        sa.Column("voicemail_prompt", sa.Text(), nullable=True),
        sa.Column("position_wording", sa.Text(), nullable=True),
        sa.Column("voice", sa.String(length=40), nullable=True),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=120), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_line_settings_one_row")),
        sa.CheckConstraint(
            "max_wait_seconds IS NULL OR max_wait_seconds > 0", name=op.f("ck_line_settings_max_wait_positive")
        ),
        sa.CheckConstraint(
            "position_announce_seconds IS NULL OR position_announce_seconds > 0",
            name=op.f("ck_line_settings_announce_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_settings")),
    )


def downgrade() -> None:
    op.drop_table("line_settings")
