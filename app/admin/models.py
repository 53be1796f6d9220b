"""The line's own settings, one row. Each column is null until an admin saves a value: then the
environment's setting (or the built-in wording, app/core/line.py) is the line's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

LINE_ROW = 1


class LineSettingsRow(Base):
    __tablename__ = "line_settings"
    __table_args__ = (
        # One line, one row: every process reads the same one.
        sa.CheckConstraint("id = 1", name="one_row"),
        sa.CheckConstraint("max_wait_seconds IS NULL OR max_wait_seconds > 0", name="max_wait_positive"),
        sa.CheckConstraint(
            "position_announce_seconds IS NULL OR position_announce_seconds > 0", name="announce_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    taking_calls: Mapped[bool | None]
    # Weekly slots as the directory stores a service's ({days, opens, closes}); null: 24/7.
    hours: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Europe/London", server_default="Europe/London")
    # Dated closures, e.g. a bank holiday: [{starts, ends, note}], both days included.
    closures: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list, server_default="[]")
    max_wait_seconds: Mapped[int | None]
    position_announce_seconds: Mapped[int | None]
    greeting: Mapped[str | None] = mapped_column(sa.Text)
    closed_message: Mapped[str | None] = mapped_column(sa.Text)
    voicemail_prompt: Mapped[str | None] = mapped_column(sa.Text)
    position_wording: Mapped[str | None] = mapped_column(sa.Text)
    voice: Mapped[str | None] = mapped_column(sa.String(40))
    updated_at: Mapped[datetime | None]
    updated_by: Mapped[str | None] = mapped_column(sa.String(120))
