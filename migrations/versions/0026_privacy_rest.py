"""A warm-transfer ticket's version: 1 when made, one more at every change a partner would see,
so a FHIR Task carries meta.versionId and an ETag, and a case system's PATCH with If-Match is
refused (412) when someone changed the ticket since it was read.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfer_tickets") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("transfer_tickets") as batch:
        batch.drop_column("version")
