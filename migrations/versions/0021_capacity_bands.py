"""Live capacity per service: the waiting-list band (under a week, 1–4 weeks, longer) beside the
places available now (``spaces``) and the maximum (``capacity``), and when and by whom those
figures were last given.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

WAITING_LISTS = ("under-a-week", "1-4-weeks", "over-4-weeks")


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("waiting_list", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("capacity_updated_at", app.core.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("capacity_updated_by", sa.String(length=120), nullable=True))
        batch.create_check_constraint("waiting_list_known", f"waiting_list IS NULL OR waiting_list IN {WAITING_LISTS}")
    # Places a partner gave before this revision were given when it last changed its service.
    op.execute(
        "UPDATE services SET capacity_updated_at = availability_updated_at,"
        " capacity_updated_by = availability_updated_by WHERE spaces IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_constraint("ck_services_waiting_list_known", type_="check")
        for name in ("capacity_updated_by", "capacity_updated_at", "waiting_list"):
            batch.drop_column(name)
