"""calls

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 03:44:41.588659
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=20), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("received_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_webhook_deliveries_dedupe_key")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_call_sid"), ["call_sid"], unique=False)

    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_sequence", sa.Integer(), nullable=False),
        sa.Column("from_encrypted", sa.Text(), nullable=True),
        sa.Column("from_hash", sa.String(length=64), nullable=True),
        sa.Column("from_withheld", sa.Boolean(), nullable=False),
        sa.Column("from_masked", sa.String(length=32), nullable=False),
        sa.Column("to_number", sa.String(length=64), nullable=True),
        sa.Column("queue_state", sa.String(length=16), nullable=False),
        sa.Column("waiting_since", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.Integer(), nullable=True),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("listener_id", sa.Integer(), nullable=True),
        sa.Column("listener_call_sid", sa.String(length=64), nullable=True),
        sa.Column("conference_name", sa.String(length=80), nullable=True),
        sa.Column("conference_sid", sa.String(length=64), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "queue_state IN ('waiting', 'claimed', 'connected', 'voicemail', 'ended')",
            name=op.f("ck_calls_queue_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["listener_id"], ["users.id"], name=op.f("fk_calls_listener_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_calls_call_sid")),
        sa.UniqueConstraint("conference_name", name=op.f("uq_calls_conference_name")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_conference_sid"), ["conference_sid"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_from_hash"), ["from_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_listener_call_sid"), ["listener_call_sid"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_listener_id"), ["listener_id"], unique=False)
        batch_op.create_index("ix_calls_queue", ["queue_state", "waiting_since"], unique=False)

    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.Column("recording_seconds", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("claimed_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'claimed', 'done')", name=op.f("ck_callback_requests_status_known")),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_callback_requests_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by"], ["users.id"], name=op.f("fk_callback_requests_claimed_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
        sa.UniqueConstraint("call_id", name=op.f("uq_callback_requests_call_id")),
    )
    op.create_table(
        "listener_presence",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("since", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("current_call_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('available', 'on-call', 'wrap-up', 'break', 'offline')",
            name=op.f("ck_listener_presence_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["current_call_id"],
            ["calls.id"],
            name=op.f("fk_listener_presence_current_call_id_calls"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_listener_presence_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_listener_presence")),
    )


def downgrade() -> None:
    op.drop_table("listener_presence")
    op.drop_table("callback_requests")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_queue")
        batch_op.drop_index(batch_op.f("ix_calls_listener_id"))
        batch_op.drop_index(batch_op.f("ix_calls_listener_call_sid"))
        batch_op.drop_index(batch_op.f("ix_calls_from_hash"))
        batch_op.drop_index(batch_op.f("ix_calls_conference_sid"))

    op.drop_table("calls")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_call_sid"))

    op.drop_table("webhook_deliveries")
