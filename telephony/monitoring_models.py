"""A supervisor's leg in a caller's conference: listening, coaching the listener, or barging in."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

MODES = ("listen", "coach", "barge")
LEG_STATES = ("dialling", "joined", "left", "failed")


class SupervisorLeg(Base):
    __tablename__ = "supervisor_legs"
    __table_args__ = (
        sa.CheckConstraint(f"mode IN {MODES}", name="mode_known"),
        sa.CheckConstraint(f"state IN {LEG_STATES}", name="state_known"),
        # One supervisor on a call at a time: a second one joining is refused, not dialled.
        sa.Index(
            "uq_supervisor_legs_active_call",
            "call_id",
            unique=True,
            sqlite_where=sa.text("state IN ('dialling', 'joined')"),
            postgresql_where=sa.text("state IN ('dialling', 'joined')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    supervisor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    call_sid: Mapped[str | None] = mapped_column(sa.String(64))
    mode: Mapped[str] = mapped_column(sa.String(8))
    state: Mapped[str] = mapped_column(sa.String(12), default="dialling")
    via: Mapped[str] = mapped_column(sa.String(8))
    requested_at: Mapped[datetime]
    joined_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
    left_reason: Mapped[str | None] = mapped_column(sa.String(40))
