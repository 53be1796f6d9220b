"""The caller's own word: the short survey a caller agrees to during the call (by keypad straight
after it, or by text the next day), their answers, and the numbers that asked for no more texts.

No number is stored here: a text survey keeps only the keyed hash of the caller's number, to match
their reply, and drops it once answered, expired or stopped.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "caller_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("calls.id", ondelete="SET NULL"), nullable=True),
        sa.Column("way", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("number_hash", sa.String(length=64), nullable=True),
        sa.Column("text_due_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consented_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consented_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("asked_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("helped", sa.Integer(), nullable=True),
        sa.Column("safer", sa.Boolean(), nullable=True),
        sa.CheckConstraint("way IN ('declined', 'keypad', 'text')", name=op.f("ck_caller_surveys_way_known")),
        sa.CheckConstraint(
            "state IN ('declined', 'agreed', 'asked', 'answered', 'expired', 'stopped', 'not-sent')",
            name=op.f("ck_caller_surveys_state_known"),
        ),
        sa.CheckConstraint("helped IS NULL OR helped BETWEEN 1 AND 5", name=op.f("ck_caller_surveys_helped_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caller_surveys")),
        sa.UniqueConstraint("call_id", name=op.f("uq_caller_surveys_call_id")),
    )
    op.create_index(op.f("ix_caller_surveys_consented_at"), "caller_surveys", ["consented_at"])
    op.create_index(op.f("ix_caller_surveys_number_hash"), "caller_surveys", ["number_hash"])
    op.create_table(
        "survey_opt_outs",
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number_hash", name=op.f("pk_survey_opt_outs")),
    )


def downgrade() -> None:
    op.drop_table("survey_opt_outs")
    op.drop_index("ix_caller_surveys_number_hash", table_name="caller_surveys")
    op.drop_index("ix_caller_surveys_consented_at", table_name="caller_surveys")
    op.drop_table("caller_surveys")
