"""The closed loop with partners: one journey id across a caller's linked warm transfers (and
whether the caller agreed that the partners on it may see each other's status), the moment a
ticket came back to the helpline's follow-ups by itself, and amendments after sending, each a
numbered version whose text is encrypted like the rest of the ticket's personal text.

Existing tickets get a journey each, shared along their re-route chain and their call.

Revision ID: 0027
Revises: 0026
"""

import uuid

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def _backfill_journeys() -> None:
    bind = op.get_bind()
    tickets = sa.table(
        "transfer_tickets",
        sa.column("id", sa.Integer),
        sa.column("call_id", sa.Integer),
        sa.column("rerouted_from_id", sa.Integer),
        sa.column("journey_id", sa.String),
    )
    journeys: dict[int, str] = {}
    by_call: dict[int, str] = {}
    rows = bind.execute(sa.select(tickets.c.id, tickets.c.call_id, tickets.c.rerouted_from_id).order_by(tickets.c.id))
    for ticket_id, call_id, rerouted_from_id in rows.all():
        journey = journeys.get(rerouted_from_id) or by_call.get(call_id) or str(uuid.uuid4())
        journeys[ticket_id] = journey
        if call_id is not None:
            by_call.setdefault(call_id, journey)
        bind.execute(sa.update(tickets).where(tickets.c.id == ticket_id).values(journey_id=journey))


def upgrade() -> None:
    with op.batch_alter_table("transfer_tickets") as batch:
        batch.add_column(sa.Column("journey_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("share_journey", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("taken_back_at", app.core.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("amendment_version", sa.Integer(), nullable=False, server_default="0"))
    _backfill_journeys()
    with op.batch_alter_table("transfer_tickets") as batch:
        batch.alter_column("journey_id", existing_type=sa.String(length=36), nullable=False)
        batch.create_index("ix_transfer_tickets_journey_id", ["journey_id"])
        # The polling contract reads tickets in (updated_at, id) order.
        batch.create_index("ix_transfer_tickets_updated", ["updated_at", "id"])
    op.create_table(
        "ticket_amendments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("transfer_tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("changes_encrypted", sa.Text(), nullable=False),
        sa.UniqueConstraint("ticket_id", "version", name=op.f("uq_ticket_amendments_ticket_id_version")),
    )
    op.create_index("ix_ticket_amendments_ticket_id", "ticket_amendments", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_ticket_amendments_ticket_id", table_name="ticket_amendments")
    op.drop_table("ticket_amendments")
    with op.batch_alter_table("transfer_tickets") as batch:
        batch.drop_index("ix_transfer_tickets_updated")
        batch.drop_index("ix_transfer_tickets_journey_id")
        for name in ("amendment_version", "taken_back_at", "share_journey", "journey_id"):
            batch.drop_column(name)
