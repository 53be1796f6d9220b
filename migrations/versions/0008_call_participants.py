"""Who is on a caller's line, participant by participant, and conference events applied in
Twilio's SequenceNumber order (callbacks arrive late, twice and out of order).

* ``call_participants``: one row per leg in the caller's conference (caller, listener, partner),
  joined and left, so "is anyone still with the caller?" is a query, not a counter that a lost or
  repeated callback can skew. Replaces ``calls.others_on_line``.
* ``calls.conference_sequence``: the highest conference event applied; held events wait for the
  ones before them.
* ``calls.announced_position``: the queue position a waiting caller last heard.
* ``webhook_deliveries.call_id``: which of our calls a delivery was about (conference events are
  found again by it when their turn comes).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LIVE_STATES = ("ringing", "joined", "handed-over", "no-answer", "busy", "failed")


def upgrade() -> None:
    op.create_table(
        "call_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("on_hold", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("joined_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("left_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("left_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id", "call_sid", name="uq_call_participants_leg"),
    )
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("conference_sequence", sa.Integer(), nullable=False, server_default="-1"))
        batch.add_column(sa.Column("announced_position", sa.Integer(), nullable=True))
        batch.drop_column("others_on_line")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("call_id", sa.Integer(), nullable=True))
        batch.create_index("ix_webhook_deliveries_call_id", ["call_id"])
    _live_states(LIVE_STATES)


def _live_states(states: tuple[str, ...]) -> None:
    # A partner's line can be busy, not only unanswered or failed.
    with op.batch_alter_table("transfer_tickets") as batch:
        batch.drop_constraint("live_state_known", type_="check")
        batch.create_check_constraint("live_state_known", f"live_state IS NULL OR live_state IN {states}")


def downgrade() -> None:
    _live_states(tuple(s for s in LIVE_STATES if s != "busy"))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_call_id")
        batch.drop_column("call_id")
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("others_on_line", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_column("announced_position")
        batch.drop_column("conference_sequence")
    op.drop_table("call_participants")
