"""Voicemail recording URLs are encrypted at rest: a Twilio recording URL can be enough to play the
caller's message. The column becomes text wide enough for the ciphertext.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callback_requests") as batch:
        batch.alter_column(
            "recording_url",
            new_column_name="recording_url_encrypted",
            existing_type=sa.String(length=500),
            type_=sa.Text(),
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_requests") as batch:
        batch.alter_column(
            "recording_url_encrypted",
            new_column_name="recording_url",
            existing_type=sa.Text(),
            type_=sa.String(length=500),
        )
