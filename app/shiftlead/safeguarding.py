"""Immediate risk during the call: flagged at once from the call card (supervisors alerted, the
protocol shown), a safeguarding record kept beside the log, and the flag closed by a supervisor
with an outcome. Every step is audited; what the caller said is encrypted at rest."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import insert_ignore, runtime_of
from app.core.errors import Conflict, NotFound
from app.core.events import publish_live
from app.core.security import User
from app.shiftlead.help import current_call_of
from app.shiftlead.models import SafeguardingRecord, alerted_entry
from telephony.models import Call

SAFEGUARDING_EVENT = "safeguarding"
PROTOCOL = (
    "Stay with the caller; keep them talking. You are not alone: supervisors have been alerted.",
    "Ask where they are now and write it in the safeguarding record.",
    "If they are in danger now, dial the crisis line or the emergency services into the call (or a supervisor will).",
    "Note any emergency-service reference number in the record.",
)
ENCRYPTED = ("concern", "risk_factors", "protective_factors", "location")


async def flag_immediate_risk(session: AsyncSession, *, user: User) -> dict[str, Any]:
    """One press: the record exists, supervisors are alerted. A second press changes nothing,
    but answers the record as it now is, so it is audited as a read."""
    call = await current_call_of(session, user)
    existed = await session.scalar(sa.select(SafeguardingRecord.id).where(SafeguardingRecord.call_id == call.id))
    record = await ensure_flag(session, call=call, user=user)
    if existed is not None:
        await audit_read(session, record, user)
    return describe_record(session, record)


async def ensure_flag(session: AsyncSession, *, call: Call, user: User, via: str = "flag") -> SafeguardingRecord:
    """The call's safeguarding record, flagged now (audited, supervisors alerted) if it was not yet.
    A supervisor may flag it too (dialling a crisis line from the board), and so does a call log
    recorded with immediate risk (``via="call_log"``): one record per call, however it is reached."""
    now = runtime_of(session).clock.now()
    created = await insert_ignore(
        session,
        SafeguardingRecord,
        dict(
            call_id=call.id,
            listener_id=call.listener_id,
            flagged_by=user.id,
            flagged_at=now,
            updated_at=now,
            alerted=[alerted_entry("supervisors on shift", now)],
        ),
        ["call_id"],
    )
    record = await session.scalar(sa.select(SafeguardingRecord).where(SafeguardingRecord.call_id == call.id))
    if created:
        await record_audit(
            session,
            actor=f"user:{user.username}",
            action="flag_immediate_risk",
            subject_type="safeguarding_record",
            subject_id=record.id,
            call_id=call.id,
            via=via,
        )
        listener = await session.get(User, call.listener_id) if call.listener_id else None
        await publish_live(
            session,
            "role:supervisor",
            SAFEGUARDING_EVENT,
            {
                "id": record.id,
                "call_id": call.id,
                "listener": listener.display_name if listener else None,
                "state": "flagged",
            },
        )
    return record


def describe_record(session: AsyncSession, record: SafeguardingRecord) -> dict[str, Any]:
    crypto = runtime_of(session).crypto
    body = {name: crypto.decrypt(getattr(record, f"{name}_encrypted")) for name in ENCRYPTED}
    body["outcome_note"] = crypto.decrypt(record.outcome_note_encrypted)
    return body | {
        "id": record.id,
        "call_id": record.call_id,
        "flagged_at": record.flagged_at.isoformat(),
        "emergency_reference": record.emergency_reference,
        "alerted": record.alerted,
        "crisis_line": record.crisis_line,
        "crisis_state": record.crisis_state,
        "crisis_number": record.crisis_number,
        "crisis_dialled_by": record.crisis_dialled_by,
        "crisis_dialled_at": _iso(record.crisis_dialled_at),
        "crisis_joined_at": _iso(record.crisis_joined_at),
        "crisis_ended_at": _iso(record.crisis_ended_at),
        "outcome": record.outcome,
        "closed_at": record.closed_at.isoformat() if record.closed_at else None,
        "protocol": list(PROTOCOL),
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


async def own_record(session: AsyncSession, record_id: int, user: User, *, lock: bool = False) -> SafeguardingRecord:
    """The listener who flagged it, or any supervisor; anyone else gets a 404."""
    stmt = sa.select(SafeguardingRecord).where(SafeguardingRecord.id == record_id)
    record = await session.scalar(stmt.with_for_update() if lock else stmt)
    if record is None or (user.role == "listener" and record.listener_id != user.id):
        raise NotFound("no such safeguarding record")
    return record


async def audit_read(session: AsyncSession, record: SafeguardingRecord, user: User) -> None:
    """A read of the decrypted record: by anyone, the listener who holds the call included (what
    the caller said is theirs, not the listener's). The write paths answer the record too, and
    their own audit rows stand for that read (app.core.audit.WRITES_SHOWING_PERSONAL_DATA)."""
    await record_audit(
        session,
        actor=f"user:{user.username}",
        action="read_safeguarding_record",
        subject_type="safeguarding_record",
        subject_id=record.id,
        call_id=record.call_id,
    )


async def read_record(session: AsyncSession, *, record_id: int, user: User) -> dict[str, Any]:
    """The record, decrypted; every read audited."""
    record = await own_record(session, record_id, user)
    await audit_read(session, record, user)
    return describe_record(session, record)


async def record_for_call(session: AsyncSession, *, call_id: int, user: User) -> dict[str, Any] | None:
    """The listener's record for one of their calls (the page asks after a reload, and during
    wrap-up once the call has ended), its read audited; None when immediate risk was not flagged
    on it (nothing read, nothing audited)."""
    record = await session.scalar(
        sa.select(SafeguardingRecord).where(
            SafeguardingRecord.call_id == call_id, SafeguardingRecord.listener_id == user.id
        )
    )
    if record is None:
        return None
    await audit_read(session, record, user)
    return describe_record(session, record)


async def update_record(session: AsyncSession, *, record_id: int, user: User, fields: dict[str, Any]) -> dict[str, Any]:
    record = await own_record(session, record_id, user, lock=True)
    crypto = runtime_of(session).crypto
    for name, value in fields.items():
        if name in ENCRYPTED:
            setattr(record, f"{name}_encrypted", crypto.encrypt(value))
        elif name == "emergency_reference":
            record.emergency_reference = value
        elif name == "alerted":
            record.alerted = [*record.alerted, *({"who": a["who"], "at": a["at"]} for a in value)]
    record.updated_at = runtime_of(session).clock.now()
    # The audit names what changed, never what it says.
    await record_audit(
        session,
        actor=f"user:{user.username}",
        action="update_safeguarding_record",
        subject_type="safeguarding_record",
        subject_id=record.id,
        fields=sorted(fields),
    )
    return describe_record(session, record)


async def close_flag(
    session: AsyncSession, *, record_id: int, supervisor: User, outcome: str, note: str | None
) -> dict[str, Any]:
    record = await own_record(session, record_id, supervisor, lock=True)
    if record.closed_at is not None:
        raise Conflict("this flag is already closed", error="already_closed")
    now = runtime_of(session).clock.now()
    record.outcome, record.closed_by, record.closed_at, record.updated_at = outcome, supervisor.id, now, now
    record.outcome_note_encrypted = runtime_of(session).crypto.encrypt(note)
    await record_audit(
        session,
        actor=f"user:{supervisor.username}",
        action="close_immediate_risk",
        subject_type="safeguarding_record",
        subject_id=record.id,
        outcome=outcome,
    )
    await publish_live(session, "role:supervisor", SAFEGUARDING_EVENT, {"id": record.id, "state": "closed"})
    return describe_record(session, record)
