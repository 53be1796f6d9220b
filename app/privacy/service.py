"""A caller's rights: their records found by the keyed hash of their number (never a search over
plaintext), exported for a subject access request, erased or restricted, with what must be kept
and why; every step audited. Another caller's rows are never touched: everything starts from the
calls whose hash matches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import PERSONAL_DATA_ACTIONS, AuditEvent, record_audit
from app.core.crypto import is_withheld, normalise_number
from app.core.db import runtime_of
from app.core.errors import NotFound, Unprocessable
from app.core.security import User
from app.helpline.models import CallLog, CallLogRevision, SupportSession
from app.privacy.retention import (
    CALL_ERASED,
    FINISHED_TICKETS,
    LOG_ERASED,
    RECORDING_ERASED,
    TICKET_ERASED,
    ticket_trail_erased,
)
from app.shiftlead.models import SafeguardingRecord
from telephony.models import Call, CallbackRequest, CallerSurvey
from transfers.tickets.amendments import list_amendments
from transfers.tickets.models import TicketEvent, TransferTicket

SAFEGUARDING_KEPT = (
    "a safeguarding record is kept for at least 6 years whatever the caller asks (a legal obligation, "
    "UK GDPR Art. 17(3)(b) and (e)): its call is kept with it"
)
HELD_KEPT = "held by an admin ({reason}): kept until the hold is lifted"
OPEN_TICKET_KEPT = "a warm transfer is still open with the partner: cancel it first (consent withdrawn), then erase"


@dataclass
class CallerRecords:
    """Everything Openline holds about one caller, reached from their calls."""

    caller_hash: str
    calls: list[Call]
    sessions: list[SupportSession]
    revisions: list[CallLogRevision]
    tickets: list[TransferTicket]
    safeguarding: list[SafeguardingRecord]
    callbacks: list[CallbackRequest]
    # call log id -> its support session's id
    log_sessions: dict[int, int]

    def call_of(self, support: SupportSession) -> int | None:
        """The session's call: the one answered, or for a ring-back the one that left the message."""
        if support.call_id is not None:
            return support.call_id
        return next((c.call_id for c in self.callbacks if c.id == support.callback_request_id), None)

    def subjects(self) -> dict[str, list[int]]:
        """The audit subjects that are this caller's records."""
        return {
            "call": [c.id for c in self.calls],
            "support_session": [s.id for s in self.sessions],
            "call_log": sorted(self.log_sessions),
            "transfer_ticket": [t.id for t in self.tickets],
            "safeguarding_record": [r.id for r in self.safeguarding],
            "callback_request": [c.id for c in self.callbacks],
        }


def hash_of(session: AsyncSession, number: str) -> str:
    digest = runtime_of(session).crypto.caller_hash(number)
    if digest is None or is_withheld(number):
        raise Unprocessable(
            "number", "a caller's phone number is needed, e.g. +447700900321; withheld calls cannot be found"
        )
    return digest


async def gather_caller(session: AsyncSession, *, number: str, lock: bool = False) -> CallerRecords:
    """The caller's records; 404 when the number has none (nothing is done for a number we do not hold)."""
    digest = hash_of(session, number)
    stmt = sa.select(Call).where(Call.from_hash == digest).order_by(Call.id)
    calls = list((await session.scalars(stmt.with_for_update() if lock else stmt)).all())
    if not calls:
        raise NotFound("no records for that number", error="no_records")
    call_ids = [c.id for c in calls]
    callbacks = list(
        (await session.scalars(sa.select(CallbackRequest).where(CallbackRequest.call_id.in_(call_ids)))).all()
    )
    # A ring-back's session hangs off the callback, not a call: it is the caller's all the same.
    sessions = list(
        (
            await session.scalars(
                sa.select(SupportSession)
                .where(
                    sa.or_(
                        SupportSession.call_id.in_(call_ids),
                        SupportSession.callback_request_id.in_([c.id for c in callbacks] or [0]),
                    )
                )
                .order_by(SupportSession.id)
            )
        ).all()
    )
    logs = (
        await session.execute(
            sa.select(CallLog.id, CallLog.session_id).where(CallLog.session_id.in_([s.id for s in sessions] or [0]))
        )
    ).all()
    log_sessions = {log_id: session_id for log_id, session_id in logs}
    revisions = list(
        (
            await session.scalars(
                sa.select(CallLogRevision)
                .where(CallLogRevision.call_log_id.in_(list(log_sessions) or [0]))
                .order_by(CallLogRevision.call_log_id, CallLogRevision.revision)
            )
        ).all()
    )
    tickets = list(
        (
            await session.scalars(
                sa.select(TransferTicket).where(TransferTicket.call_id.in_(call_ids)).order_by(TransferTicket.id)
            )
        ).all()
    )
    records = list(
        (await session.scalars(sa.select(SafeguardingRecord).where(SafeguardingRecord.call_id.in_(call_ids)))).all()
    )
    return CallerRecords(digest, calls, sessions, revisions, tickets, records, callbacks, log_sessions)


def kept_reasons(records: CallerRecords) -> dict[int, str]:
    """Why each call that an erasure must keep is kept, by call id."""
    kept = {r.call_id: SAFEGUARDING_KEPT for r in records.safeguarding if r.call_id is not None}
    for call in records.calls:
        if call.held_at is not None:
            kept.setdefault(call.id, HELD_KEPT.format(reason=call.held_reason or "no reason given"))
    for ticket in records.tickets:
        if ticket.status not in FINISHED_TICKETS and ticket.call_id is not None:
            kept.setdefault(ticket.call_id, OPEN_TICKET_KEPT)
    return kept


def _kept_list(records: CallerRecords) -> list[dict[str, Any]]:
    return [{"call_id": call_id, "why": why} for call_id, why in sorted(kept_reasons(records).items())]


async def _audit(session: AsyncSession, user: User, action: str, records: CallerRecords, **detail: Any) -> None:
    await record_audit(
        session,
        actor=f"user:{user.username}",
        action=action,
        subject_type="caller",
        subject_id=records.calls[0].id,
        caller_hash=records.caller_hash,
        calls=[c.id for c in records.calls],
        **detail,
    )


async def find_caller_records(session: AsyncSession, *, number: str, user: User) -> dict[str, Any]:
    """What is held about the caller, counted, and what an erasure would have to keep."""
    records = await gather_caller(session, number=number)
    await _audit(session, user, "find_caller_records", records)
    return {
        "calls": [_call_summary(c) for c in records.calls],
        "counts": {kind: len(ids) for kind, ids in records.subjects().items()},
        "kept_on_erasure": _kept_list(records),
    }


def _call_summary(call: Call) -> dict[str, Any]:
    return {
        "id": call.id,
        "number": call.from_masked,
        "rang_at": call.created_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "held": call.held_at is not None,
        "held_reason": call.held_reason,
    }


async def export_caller_records(session: AsyncSession, *, number: str, user: User) -> dict[str, Any]:
    """Everything held about the caller, decrypted, for a subject access request (audited)."""
    records = await gather_caller(session, number=number)
    crypto = runtime_of(session).crypto
    trail = await _trails(session, [t.id for t in records.tickets])
    await _audit(session, user, "export_caller_data", records)
    return {
        "number": normalise_number(number),
        "exported_at": runtime_of(session).clock.now(),
        "calls": [
            _call_summary(c) | {"number": crypto.decrypt(c.from_encrypted), "wait_seconds": c.wait_seconds}
            for c in records.calls
        ],
        "call_logs": [
            {
                "session_id": records.log_sessions[r.call_log_id],
                "revision": r.revision,
                "recorded_at": r.created_at,
                "contact_type": r.contact_type,
                "needs": list(r.needs),
                "risk_level": r.risk_level,
                "consent_to_share": r.consent_to_share,
                "consent_covers": r.consent_covers,
                "title": r.title,
                "summary": crypto.decrypt(r.summary_encrypted),
                "notes": crypto.decrypt(r.notes_encrypted),
                "outcome": r.outcome,
            }
            for r in records.revisions
        ],
        "warm_transfers": [
            {
                "id": t.id,
                "status": t.status,
                "created_at": t.created_at,
                "caller_name": crypto.decrypt(t.caller_name_encrypted),
                "contact_number": crypto.decrypt(t.contact_number_encrypted),
                "preferred_times": t.preferred_times,
                "shared_summary": crypto.decrypt(t.shared_summary_encrypted),
                "consent_covers": t.consent_covers,
                "outcome": t.outcome,
                "trail": trail.get(t.id, []),
                "amendments": await list_amendments(session, ticket=t, masked=False),
            }
            for t in records.tickets
        ],
        "safeguarding_records": [
            {
                "id": r.id,
                "flagged_at": r.flagged_at,
                "concern": crypto.decrypt(r.concern_encrypted),
                "risk_factors": crypto.decrypt(r.risk_factors_encrypted),
                "protective_factors": crypto.decrypt(r.protective_factors_encrypted),
                "location": crypto.decrypt(r.location_encrypted),
                "outcome": r.outcome,
                "outcome_note": crypto.decrypt(r.outcome_note_encrypted),
                "closed_at": r.closed_at,
            }
            for r in records.safeguarding
        ],
        "voicemails": [
            {
                "id": c.id,
                "left_at": c.created_at,
                "seconds": c.recording_seconds,
                "recording_held": c.recording_url_encrypted is not None,
            }
            for c in records.callbacks
        ],
        "kept_on_erasure": _kept_list(records),
    }


async def _trails(session: AsyncSession, ticket_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    events = (
        await session.scalars(
            sa.select(TicketEvent).where(TicketEvent.ticket_id.in_(ticket_ids or [0])).order_by(TicketEvent.id)
        )
    ).all()
    trails: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        trails.setdefault(e.ticket_id, []).append(
            {"at": e.at, "actor": e.actor, "action": e.action, "to": e.to_status, "reason": e.reason}
        )
    return trails


async def erase_caller_records(session: AsyncSession, *, number: str, user: User) -> dict[str, Any]:
    """Erase what may be erased; keep (and say why) what the law or an open warm transfer needs."""
    records = await gather_caller(session, number=number, lock=True)
    kept = kept_reasons(records)
    calls = [c.id for c in records.calls if c.id not in kept]
    erasable_sessions = {s.id for s in records.sessions if records.call_of(s) not in kept}
    logs = [log_id for log_id, session_id in records.log_sessions.items() if session_id in erasable_sessions]
    tickets = [t.id for t in records.tickets if t.call_id not in kept]
    erased = {
        "calls": len(calls),
        "call_log_revisions": len([r for r in records.revisions if r.call_log_id in logs]),
        "warm_transfers": len(tickets),
        "voicemails": len([c for c in records.callbacks if c.call_id not in kept]),
    }
    if calls:
        # Before the calls lose their hash: a text survey still waiting for this caller's reply.
        await session.execute(
            sa.update(CallerSurvey)
            .where(CallerSurvey.call_id.in_(calls), CallerSurvey.number_hash.is_not(None))
            .values(number_hash=None, state="expired")
        )
        await session.execute(sa.update(Call).where(Call.id.in_(calls)).values(CALL_ERASED))
        await session.execute(
            sa.update(CallbackRequest).where(CallbackRequest.call_id.in_(calls)).values(RECORDING_ERASED)
        )
        await session.execute(
            sa.update(CallLogRevision).where(CallLogRevision.call_log_id.in_(logs)).values(LOG_ERASED)
        )
    if tickets:
        for statement in ticket_trail_erased(tickets):
            await session.execute(statement)
        await session.execute(sa.update(TransferTicket).where(TransferTicket.id.in_(tickets)).values(TICKET_ERASED))
    kept_list = _kept_list(records)
    await _audit(session, user, "erase_caller_data", records, erased=erased, kept=kept_list)
    return {"erased": erased, "kept": kept_list}


async def restrict_caller_records(
    session: AsyncSession, *, number: str, restricted: bool, reason: str | None, user: User
) -> dict[str, Any]:
    """Hold every call of the caller (kept past retention, never erased) or lift the hold."""
    records = await gather_caller(session, number=number, lock=True)
    now = runtime_of(session).clock.now()
    for call in records.calls:
        call.held_at, call.held_reason = (now, reason) if restricted else (None, None)
    await _audit(session, user, "restrict_caller_data", records, restricted=restricted, reason=reason)
    return {"restricted": restricted, "reason": reason, "calls": [_call_summary(c) for c in records.calls]}


async def search_personal_reads(
    session: AsyncSession, *, actor: str | None, number: str | None, limit: int
) -> list[dict[str, Any]]:
    """Reads of personal data (and admins' acts on it), newest first, by whom and/or whose."""
    where: list[Any] = [AuditEvent.action.in_(PERSONAL_DATA_ACTIONS)]
    if actor:
        where.append(AuditEvent.actor.in_((actor, f"user:{actor}")))
    if number:
        digest = hash_of(session, number)
        # An erased caller has no records left, but the admins' steps about them stay findable.
        about = [AuditEvent.detail["caller_hash"].as_string() == digest]
        try:
            records = await gather_caller(session, number=number)
        except NotFound:
            records = None
        for kind, ids in records.subjects().items() if records else ():
            if ids:
                about.append(sa.and_(AuditEvent.subject_type == kind, AuditEvent.subject_id.in_(ids)))
        where.append(sa.or_(*about))
    rows = (
        await session.scalars(sa.select(AuditEvent).where(*where).order_by(AuditEvent.id.desc()).limit(limit))
    ).all()
    return [
        {"at": e.at, "actor": e.actor, "action": e.action, "subject_type": e.subject_type, "subject_id": e.subject_id}
        for e in rows
    ]
