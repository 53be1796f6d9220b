"""warm_transfers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 03:44:45.956145
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfer_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("rerouted_from_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("risk_level", sa.String(length=12), nullable=False),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("locality", sa.String(length=40), nullable=True),
        sa.Column("caller_name_encrypted", sa.Text(), nullable=True),
        sa.Column("contact_number_encrypted", sa.Text(), nullable=True),
        sa.Column("contact_method", sa.String(length=20), nullable=False),
        sa.Column("preferred_times", sa.Text(), nullable=True),
        sa.Column("shared_summary_encrypted", sa.Text(), nullable=True),
        sa.Column("consent_covers", sa.Text(), nullable=False),
        sa.Column("consent_recorded_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consent_recorded_by", sa.Integer(), nullable=False),
        sa.Column("sms_consent", sa.Boolean(), nullable=False),
        sa.Column("accept_by", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("contact_by", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handover_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handover_by", sa.String(length=120), nullable=True),
        sa.Column("completed_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("accept_breached_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("contact_breached_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("contact_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mode IN ('queue', 'live')", name=op.f("ck_transfer_tickets_mode_known")),
        sa.CheckConstraint(
            "status IN ('requested', 'accepted', 'rejected', 'in-progress', 'on-hold', 'failed', 'completed', 'cancelled')",
            name=op.f("ck_transfer_tickets_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_transfer_tickets_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["consent_recorded_by"],
            ["users.id"],
            name=op.f("fk_transfer_tickets_consent_recorded_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_transfer_tickets_created_by_users"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["rerouted_from_id"],
            ["transfer_tickets.id"],
            name=op.f("fk_transfer_tickets_rerouted_from_id_transfer_tickets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_transfer_tickets_service_id_services"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_tickets")),
        sa.UniqueConstraint(
            "created_by", "idempotency_key", name=op.f("uq_transfer_tickets_created_by_idempotency_key")
        ),
    )
    with op.batch_alter_table("transfer_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transfer_tickets_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_transfer_tickets_created_by"), ["created_by"], unique=False)
        batch_op.create_index("ix_transfer_tickets_queue", ["service_id", "status"], unique=False)

    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_follow_ups_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_follow_ups_resolved_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["transfer_tickets.id"],
            name=op.f("fk_follow_ups_ticket_id_transfer_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_ups_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "partner_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_partner_notifications_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["transfer_tickets.id"],
            name=op.f("fk_partner_notifications_ticket_id_transfer_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_notifications")),
    )
    with op.batch_alter_table("partner_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_notifications_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_partner_notifications_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["transfer_tickets.id"],
            name=op.f("fk_ticket_events_ticket_id_transfer_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_events_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_events_ticket_id"))

    op.drop_table("ticket_events")
    with op.batch_alter_table("partner_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_notifications_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_partner_notifications_organisation_id"))

    op.drop_table("partner_notifications")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_ups_ticket_id"))

    op.drop_table("follow_ups")
    with op.batch_alter_table("transfer_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_transfer_tickets_queue")
        batch_op.drop_index(batch_op.f("ix_transfer_tickets_created_by"))
        batch_op.drop_index(batch_op.f("ix_transfer_tickets_call_id"))

    op.drop_table("transfer_tickets")
