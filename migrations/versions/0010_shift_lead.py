"""The shift lead: alerts acknowledged by a named supervisor, listeners asking for help, the
safeguarding record of an immediate-risk call (and its crisis line's warm transfer), and the
supervisor legs that listen, coach or barge.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import app.core.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ALERT_KINDS = ("long-wait", "overrun", "immediate-risk", "help", "notification-dead")
CRISIS_STATES = ("ringing", "joined", "handed-over", "no-answer", "busy", "failed")
RISK_OUTCOMES = (
    "emergency-services-attended",
    "crisis-team-took-over",
    "safe-plan-agreed",
    "caller-ended-call",
    "no-further-action",
    "other",
)
ACTIVE = "state IN ('dialling', 'joined')"


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, app.core.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alert_acknowledgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("acknowledged_by", sa.Integer(), nullable=False),
        _at("acknowledged_at"),
        sa.CheckConstraint(f"kind IN {ALERT_KINDS}", name=op.f("ck_alert_acknowledgements_kind_known")),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["users.id"],
            name=op.f("fk_alert_acknowledgements_acknowledged_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_acknowledgements")),
        sa.UniqueConstraint("alert_key", name=op.f("uq_alert_acknowledgements_alert_key")),
    )
    op.create_table(
        "help_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("listener_id", sa.Integer(), nullable=False),
        _at("raised_at"),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_help_requests_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["listener_id"], ["users.id"], name=op.f("fk_help_requests_listener_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_requests")),
    )
    op.create_index(op.f("ix_help_requests_call_id"), "help_requests", ["call_id"])
    _safeguarding_records()
    _supervisor_legs()


def _safeguarding_records() -> None:
    op.create_table(
        "safeguarding_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("listener_id", sa.Integer(), nullable=True),
        sa.Column("flagged_by", sa.Integer(), nullable=False),
        _at("flagged_at"),
        sa.Column("concern_encrypted", sa.Text(), nullable=True),
        sa.Column("risk_factors_encrypted", sa.Text(), nullable=True),
        sa.Column("protective_factors_encrypted", sa.Text(), nullable=True),
        sa.Column("location_encrypted", sa.Text(), nullable=True),
        sa.Column("emergency_reference", sa.String(length=64), nullable=True),
        sa.Column("alerted", sa.JSON(), nullable=False),
        sa.Column("crisis_line", sa.String(length=80), nullable=True),
        sa.Column("crisis_state", sa.String(length=16), nullable=True),
        sa.Column("crisis_call_sid", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("outcome_note_encrypted", sa.Text(), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        _at("closed_at", nullable=True),
        _at("updated_at"),
        sa.CheckConstraint(
            f"crisis_state IS NULL OR crisis_state IN {CRISIS_STATES}",
            name=op.f("ck_safeguarding_records_crisis_state_known"),
        ),
        sa.CheckConstraint(
            f"outcome IS NULL OR outcome IN {RISK_OUTCOMES}", name=op.f("ck_safeguarding_records_outcome_known")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_safeguarding_records_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["listener_id"], ["users.id"], name=op.f("fk_safeguarding_records_listener_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["flagged_by"], ["users.id"], name=op.f("fk_safeguarding_records_flagged_by_users"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["users.id"], name=op.f("fk_safeguarding_records_closed_by_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safeguarding_records")),
        sa.UniqueConstraint("call_id", name=op.f("uq_safeguarding_records_call_id")),
    )


def _supervisor_legs() -> None:
    op.create_table(
        "supervisor_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("supervisor_id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        _at("requested_at"),
        _at("joined_at", nullable=True),
        _at("left_at", nullable=True),
        sa.Column("left_reason", sa.String(length=40), nullable=True),
        sa.CheckConstraint("mode IN ('listen', 'coach', 'barge')", name=op.f("ck_supervisor_legs_mode_known")),
        sa.CheckConstraint(
            "state IN ('dialling', 'joined', 'left', 'failed')", name=op.f("ck_supervisor_legs_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_supervisor_legs_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"], ["users.id"], name=op.f("fk_supervisor_legs_supervisor_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervisor_legs")),
    )
    op.create_index(op.f("ix_supervisor_legs_call_id"), "supervisor_legs", ["call_id"])
    op.create_index(
        "uq_supervisor_legs_active_call",
        "supervisor_legs",
        ["call_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_supervisor_legs_active_call", table_name="supervisor_legs")
    op.drop_index(op.f("ix_supervisor_legs_call_id"), table_name="supervisor_legs")
    op.drop_table("supervisor_legs")
    op.drop_table("safeguarding_records")
    op.drop_index(op.f("ix_help_requests_call_id"), table_name="help_requests")
    op.drop_table("help_requests")
    op.drop_table("alert_acknowledgements")
