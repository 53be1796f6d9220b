"""What the shift lead's work leaves behind: alerts acknowledged, help asked for, and the
safeguarding record of an immediate-risk call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

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


class AlertAcknowledgement(Base):
    """A supervisor saying "I have this": one per alert (its key names what it is about)."""

    __tablename__ = "alert_acknowledgements"
    __table_args__ = (sa.CheckConstraint(f"kind IN {ALERT_KINDS}", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(24))
    acknowledged_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    acknowledged_at: Mapped[datetime]


class HelpRequest(Base):
    """A listener asking a supervisor to come to their call."""

    __tablename__ = "help_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    listener_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    raised_at: Mapped[datetime]


class SafeguardingRecord(Base):
    """Immediate risk flagged during a call: what was known, who was told, what was done. It stays
    on the board until a supervisor closes it with an outcome. What the caller said is encrypted."""

    __tablename__ = "safeguarding_records"
    __table_args__ = (
        sa.CheckConstraint(f"crisis_state IS NULL OR crisis_state IN {CRISIS_STATES}", name="crisis_state_known"),
        sa.CheckConstraint(f"outcome IS NULL OR outcome IN {RISK_OUTCOMES}", name="outcome_known"),
        # Open records stay on the board; closed ones are history it never reads.
        sa.Index(
            "ix_safeguarding_records_open",
            "flagged_at",
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id", ondelete="SET NULL"), unique=True)
    listener_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    flagged_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    flagged_at: Mapped[datetime]
    concern_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    risk_factors_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    protective_factors_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    location_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    emergency_reference: Mapped[str | None] = mapped_column(sa.String(64))
    # Who was alerted and when: [{"who": "role:supervisor", "at": iso}, {"who": "Crisis team", ...}].
    alerted: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    crisis_line: Mapped[str | None] = mapped_column(sa.String(80))
    crisis_state: Mapped[str | None] = mapped_column(sa.String(16))
    crisis_call_sid: Mapped[str | None] = mapped_column(sa.String(64))
    # The crisis line's warm transfer: which number, who dialled it, when it joined or failed.
    crisis_number: Mapped[str | None] = mapped_column(sa.String(20))
    crisis_dialled_by: Mapped[str | None] = mapped_column(sa.String(120))
    crisis_dialled_at: Mapped[datetime | None]
    crisis_joined_at: Mapped[datetime | None]
    crisis_ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(40))
    outcome_note_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    closed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


def alerted_entry(who: str, at: datetime) -> dict[str, Any]:
    return {"who": who, "at": at.isoformat()}
