"""The shift lead, second part: the crisis line's warm transfer recorded on the safeguarding
record (which number was dialled, by whom, when it joined or failed), and who ended each call.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ENDED_BY = ("caller", "listener", "transfer", "dropped")


def _at(name: str) -> sa.Column:
    return sa.Column(name, app.core.db.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("safeguarding_records") as batch:
        batch.add_column(sa.Column("crisis_number", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("crisis_dialled_by", sa.String(length=120), nullable=True))
        batch.add_column(_at("crisis_dialled_at"))
        batch.add_column(_at("crisis_joined_at"))
        batch.add_column(_at("crisis_ended_at"))
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("ended_by", sa.String(length=16), nullable=True))
        batch.create_check_constraint("ended_by_known", f"ended_by IS NULL OR ended_by IN {ENDED_BY}")


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint("ck_calls_ended_by_known", type_="check")
        batch.drop_column("ended_by")
    with op.batch_alter_table("safeguarding_records") as batch:
        for name in ("crisis_ended_at", "crisis_joined_at", "crisis_dialled_at", "crisis_dialled_by", "crisis_number"):
            batch.drop_column(name)
