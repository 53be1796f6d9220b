"""Live events ordered without a global lock: each row notes the transaction that wrote it.

On PostgreSQL ids are handed out when rows are inserted but become visible when their
transactions commit, in another order; a stream reading "id > last seen" could pass an id whose
transaction had not committed yet and never see it. Streams now read in (txid, id) order and only
rows whose transaction is older than every transaction still running, which is exact without
serialising the writers. SQLite has one writer at a time: txid stays empty there, and id order is
commit order.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("live_events") as batch:
        batch.add_column(sa.Column("txid", sa.BigInteger(), nullable=True))
        batch.create_index("ix_live_events_txid", ["txid", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Rows from before: all committed, so they come first, in id order.
        op.execute("UPDATE live_events SET txid = 0")


def downgrade() -> None:
    with op.batch_alter_table("live_events") as batch:
        batch.drop_index("ix_live_events_txid")
        batch.drop_column("txid")
