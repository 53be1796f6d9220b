"""Who ended a call: also at the voicemail prompt, or closed by reconciliation (the system).

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BEFORE = ("caller", "listener", "transfer", "dropped")
AFTER = (*BEFORE, "voicemail", "system")


def _allow(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint("ended_by_known", type_="check")
        batch.create_check_constraint("ended_by_known", f"ended_by IS NULL OR ended_by IN {values}")


def upgrade() -> None:
    _allow(AFTER)


def downgrade() -> None:
    op.execute(f"UPDATE calls SET ended_by = NULL WHERE ended_by NOT IN {BEFORE}")
    _allow(BEFORE)
