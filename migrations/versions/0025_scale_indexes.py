"""Indexes for the board and the capacity model at national scale: each listener's latest call by
one seek, the ticket queue by state (counts and the oldest open wait), tickets accepted and
completed in a window, ticket events since a moment, and the short lists of what is still open
(undelivered notifications, callbacks, follow-ups, immediate-risk records) without reading the
whole history of them.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

UNRESOLVED = sa.text("resolved_at IS NULL")
NOT_CLOSED = sa.text("closed_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_calls_listener_ended", "calls", ["listener_id", "ended_at", "id"])
    op.create_index("ix_transfer_tickets_status_created", "transfer_tickets", ["status", "created_at"])
    op.create_index("ix_transfer_tickets_accepted_at", "transfer_tickets", ["accepted_at"])
    op.create_index("ix_transfer_tickets_completed_at", "transfer_tickets", ["completed_at"])
    op.create_index("ix_ticket_events_at", "ticket_events", ["at"])
    op.create_index("ix_partner_notifications_status", "partner_notifications", ["status", "created_at"])
    op.create_index("ix_callback_requests_status", "callback_requests", ["status", "created_at"])
    op.create_index(
        "ix_follow_ups_open", "follow_ups", ["created_at"], sqlite_where=UNRESOLVED, postgresql_where=UNRESOLVED
    )
    op.create_index(
        "ix_safeguarding_records_open",
        "safeguarding_records",
        ["flagged_at"],
        sqlite_where=NOT_CLOSED,
        postgresql_where=NOT_CLOSED,
    )


def downgrade() -> None:
    op.drop_index("ix_safeguarding_records_open", "safeguarding_records")
    op.drop_index("ix_follow_ups_open", "follow_ups")
    op.drop_index("ix_callback_requests_status", "callback_requests")
    op.drop_index("ix_partner_notifications_status", "partner_notifications")
    op.drop_index("ix_ticket_events_at", "ticket_events")
    op.drop_index("ix_transfer_tickets_completed_at", "transfer_tickets")
    op.drop_index("ix_transfer_tickets_accepted_at", "transfer_tickets")
    op.drop_index("ix_transfer_tickets_status_created", "transfer_tickets")
    op.drop_index("ix_calls_listener_ended", "calls")
