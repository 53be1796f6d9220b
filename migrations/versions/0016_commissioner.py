"""The commissioner: a read-only role that sees the reports' aggregates and never a caller's details.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BEFORE = "role IN ('listener', 'partner', 'supervisor', 'admin')"
AFTER = "role IN ('listener', 'partner', 'supervisor', 'admin', 'commissioner')"


def _constrain(condition: str) -> None:
    # SQLite cannot alter a constraint in place: batch mode rebuilds the table with the new one.
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role_known"), type_="check")
        batch.create_check_constraint("role_known", condition)


def upgrade() -> None:
    _constrain(AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM user_sessions WHERE user_id IN (SELECT id FROM users WHERE role = 'commissioner')")
    op.execute("DELETE FROM users WHERE role = 'commissioner'")
    _constrain(BEFORE)
