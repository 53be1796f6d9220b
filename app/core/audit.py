"""An append-only audit trail: who did what to which record, when. Written in the same
transaction as the change it describes, so the trail and the data cannot disagree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, runtime_of


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_subject", "subject_type", "subject_id"),
        sa.Index("ix_audit_events_actor", "actor", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(64))
    subject_type: Mapped[str] = mapped_column(sa.String(40))
    subject_id: Mapped[int]
    detail: Mapped[dict[str, Any]]


async def record_audit(
    session: AsyncSession, *, actor: str, action: str, subject_type: str, subject_id: int, **detail: Any
) -> AuditEvent:
    event = AuditEvent(
        at=runtime_of(session).clock.now(),
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=detail,
    )
    session.add(event)
    await session.flush()
    return event


async def list_audit(session: AsyncSession, subject_type: str, subject_id: int) -> list[AuditEvent]:
    stmt = (
        sa.select(AuditEvent)
        .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == subject_id)
        .order_by(AuditEvent.id)
    )
    return list((await session.scalars(stmt)).all())


# Every audit action that is someone reading a caller's decrypted personal data (or an admin
# acting on it): the personal-data audit search looks only at these.
READ_PERSONAL_DATA = "read_personal_data"
# Writes whose answer carries the decrypted record back (a safeguarding record after a change, a
# call log as recorded): their own audit row, naming the same subject, stands for the read, so
# each such request is one row, never a write row and a read row.
WRITES_SHOWING_PERSONAL_DATA = (
    "record_call_log",
    "correct_call_log",
    "flag_immediate_risk",
    "update_safeguarding_record",
    "dial_crisis_line",
    "hand_over_to_crisis_line",
    "close_immediate_risk",
)
PERSONAL_DATA_ACTIONS = (
    READ_PERSONAL_DATA,
    "read_caller_details",
    "read_safeguarding_record",
    "voicemail.played",
    "find_caller_records",
    "export_caller_data",
    "erase_caller_data",
    "restrict_caller_data",
    *WRITES_SHOWING_PERSONAL_DATA,
)


async def record_personal_read(
    session: AsyncSession, *, actor: str, subject_type: str, subject_id: int, **detail: Any
) -> AuditEvent:
    """One row per request that shows decrypted personal data (never one per field)."""
    return await record_audit(
        session, actor=actor, action=READ_PERSONAL_DATA, subject_type=subject_type, subject_id=subject_id, **detail
    )
