"""Partners keep their own services up to date: open, paused or closed for a holiday (with the
day it reopens and a note), how many more warm transfers it can take now, and planned closures.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

AVAILABILITY = ("open", "paused", "holiday")


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("availability", sa.String(length=10), nullable=False, server_default="open"))
        batch.add_column(sa.Column("reopens_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("availability_note", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("spaces", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("closures", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("availability_updated_at", app.core.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("availability_updated_by", sa.String(length=120), nullable=True))
        batch.create_check_constraint("availability_known", f"availability IN {AVAILABILITY}")
        batch.create_check_constraint("spaces_not_negative", "spaces IS NULL OR spaces >= 0")


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_constraint("ck_services_spaces_not_negative", type_="check")
        batch.drop_constraint("ck_services_availability_known", type_="check")
        for name in (
            "availability_updated_by",
            "availability_updated_at",
            "closures",
            "spaces",
            "availability_note",
            "reopens_on",
            "availability",
        ):
            batch.drop_column(name)
