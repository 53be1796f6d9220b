"""support_sessions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 03:44:43.647060
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "support_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("callback_request_id", sa.Integer(), nullable=True),
        sa.Column("listener_id", sa.Integer(), nullable=False),
        sa.Column("started_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("warning_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("warned_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_fired_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("overrun_seconds", sa.Integer(), nullable=False),
        sa.Column("wrap_up_until", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_support_sessions_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["callback_request_id"],
            ["callback_requests.id"],
            name=op.f("fk_support_sessions_callback_request_id_callback_requests"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["listener_id"], ["users.id"], name=op.f("fk_support_sessions_listener_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_sessions")),
        sa.UniqueConstraint("call_id", name=op.f("uq_support_sessions_call_id")),
    )
    with op.batch_alter_table("support_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_support_sessions_listener_id"), ["listener_id"], unique=False)

    op.create_table(
        "call_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("current_revision", sa.Integer(), nullable=False),
        sa.Column("risk_flagged_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_call_logs_created_by_users"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["support_sessions.id"],
            name=op.f("fk_call_logs_session_id_support_sessions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_logs")),
        sa.UniqueConstraint("session_id", name=op.f("uq_call_logs_session_id")),
    )
    op.create_table(
        "call_log_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_log_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("contact_type", sa.String(length=20), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("risk_level", sa.String(length=12), nullable=False),
        sa.Column("consent_to_share", sa.Boolean(), nullable=False),
        sa.Column("consent_covers", sa.Text(), nullable=True),
        sa.Column("consent_recorded_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consent_recorded_by", sa.Integer(), nullable=True),
        sa.Column("sms_consent", sa.Boolean(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("summary_encrypted", sa.Text(), nullable=True),
        sa.Column("notes_encrypted", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("correction_reason", sa.Text(), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "contact_type IN ('support', 'silent', 'wrong-number', 'abusive', 'hang-up', 'test')",
            name=op.f("ck_call_log_revisions_contact_type_known"),
        ),
        sa.CheckConstraint(
            "outcome IN ('supported', 'warm-transfer', 'signposted', 'emergency-services', 'caller-ended')",
            name=op.f("ck_call_log_revisions_outcome_known"),
        ),
        sa.CheckConstraint(
            "risk_level IN ('none', 'low', 'moderate', 'high', 'immediate')",
            name=op.f("ck_call_log_revisions_risk_level_known"),
        ),
        sa.ForeignKeyConstraint(
            ["call_log_id"],
            ["call_logs.id"],
            name=op.f("fk_call_log_revisions_call_log_id_call_logs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["consent_recorded_by"],
            ["users.id"],
            name=op.f("fk_call_log_revisions_consent_recorded_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_call_log_revisions_created_by_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_log_revisions")),
        sa.UniqueConstraint("call_log_id", "revision", name=op.f("uq_call_log_revisions_call_log_id_revision")),
    )
    with op.batch_alter_table("call_log_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_log_revisions_call_log_id"), ["call_log_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_log_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_log_revisions_call_log_id"))

    op.drop_table("call_log_revisions")
    op.drop_table("call_logs")
    with op.batch_alter_table("support_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_sessions_listener_id"))

    op.drop_table("support_sessions")
