"""Support sessions and the call log recorded once per session (corrections are revisions)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

CONTACT_TYPES = ("support", "silent", "wrong-number", "abusive", "hang-up", "test")
RISK_LEVELS = ("none", "low", "moderate", "high", "immediate")
OUTCOMES = ("supported", "warm-transfer", "signposted", "emergency-services", "caller-ended")


class SupportSession(Base):
    """The timed emotional-support session. Server-authoritative: the browser only displays it."""

    __tablename__ = "support_sessions"
    # A listener's current session and tonight's, and the reports' window, without reading them all.
    __table_args__ = (
        sa.Index("ix_support_sessions_listener_ended", "listener_id", "ended_at"),
        sa.Index("ix_support_sessions_listener_started", "listener_id", "started_at"),
        sa.Index("ix_support_sessions_started_at", "started_at"),
        sa.Index(
            "ix_support_sessions_running",
            "listener_id",
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id", ondelete="SET NULL"), unique=True)
    callback_request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("callback_requests.id", ondelete="SET NULL"))
    listener_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    started_at: Mapped[datetime]
    warning_at: Mapped[datetime]
    due_at: Mapped[datetime]
    warned_at: Mapped[datetime | None]
    due_fired_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    overrun_seconds: Mapped[int] = mapped_column(default=0)
    wrap_up_until: Mapped[datetime | None]


class CallLog(Base):
    """One per session; what it says lives in its revisions, newest last."""

    __tablename__ = "call_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("support_sessions.id", ondelete="RESTRICT"), unique=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    current_revision: Mapped[int] = mapped_column(default=1)
    risk_flagged_at: Mapped[datetime | None] = mapped_column(index=True)


class CallLogRevision(Base):
    __tablename__ = "call_log_revisions"
    __table_args__ = (
        sa.UniqueConstraint("call_log_id", "revision"),
        sa.CheckConstraint(f"contact_type IN {CONTACT_TYPES}", name="contact_type_known"),
        sa.CheckConstraint(f"risk_level IN {RISK_LEVELS}", name="risk_level_known"),
        sa.CheckConstraint(f"outcome IN {OUTCOMES}", name="outcome_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_log_id: Mapped[int] = mapped_column(sa.ForeignKey("call_logs.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int]
    contact_type: Mapped[str] = mapped_column(sa.String(20))
    needs: Mapped[list[str]]
    risk_level: Mapped[str] = mapped_column(sa.String(12))
    consent_to_share: Mapped[bool]
    consent_covers: Mapped[str | None] = mapped_column(sa.Text)
    consent_recorded_at: Mapped[datetime | None]
    consent_recorded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    sms_consent: Mapped[bool] = mapped_column(default=False)
    title: Mapped[str] = mapped_column(sa.String(120))
    summary_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    notes_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    outcome: Mapped[str] = mapped_column(sa.String(24))
    correction_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
