"""Indexes for bounded time ranges: reports and dashboards read a window of calls, sessions, warm
transfers and risk flags, and a listener's running session, without scanning the whole history.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

RUNNING = sa.text("ended_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_calls_created_at", "calls", ["created_at"])
    op.create_index("ix_support_sessions_listener_ended", "support_sessions", ["listener_id", "ended_at"])
    op.create_index("ix_support_sessions_listener_started", "support_sessions", ["listener_id", "started_at"])
    op.create_index("ix_support_sessions_started_at", "support_sessions", ["started_at"])
    op.create_index(
        "ix_support_sessions_running",
        "support_sessions",
        ["listener_id"],
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )
    op.create_index("ix_transfer_tickets_created_at", "transfer_tickets", ["created_at"])
    op.create_index("ix_call_logs_risk_flagged_at", "call_logs", ["risk_flagged_at"])
    op.create_index("ix_call_logs_created_at", "call_logs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_call_logs_created_at", "call_logs")
    op.drop_index("ix_call_logs_risk_flagged_at", "call_logs")
    op.drop_index("ix_transfer_tickets_created_at", "transfer_tickets")
    op.drop_index("ix_support_sessions_running", "support_sessions")
    op.drop_index("ix_support_sessions_started_at", "support_sessions")
    op.drop_index("ix_support_sessions_listener_started", "support_sessions")
    op.drop_index("ix_support_sessions_listener_ended", "support_sessions")
    op.drop_index("ix_calls_created_at", "calls")
