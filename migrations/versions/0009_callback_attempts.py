"""Ringing a caller back: each attempt is an outbound call of its own, linked to the callback
request, with its result (answered, no answer, busy...) shown to the listener.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_request_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("listener_id", sa.Integer(), nullable=True),
        sa.Column("started_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=True),
        sa.Column("ended_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["callback_request_id"],
            ["callback_requests.id"],
            name=op.f("fk_callback_attempts_callback_request_id_callback_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_callback_attempts_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["listener_id"], ["users.id"], name=op.f("fk_callback_attempts_listener_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempts")),
        sa.UniqueConstraint("call_id", name=op.f("uq_callback_attempts_call_id")),
    )
    op.create_index(op.f("ix_callback_attempts_callback_request_id"), "callback_attempts", ["callback_request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_callback_attempts_callback_request_id"), table_name="callback_attempts")
    op.drop_table("callback_attempts")
