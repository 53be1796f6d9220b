"""What a listener sees about the person on the line: the call card, earlier contacts from the same
number (so a caller need not tell their story again), and the listener's own calls tonight."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_personal_read
from app.core.db import runtime_of
from app.core.security import User
from app.helpline.models import CallLog, CallLogRevision, SupportSession
from app.helpline.sessions import describe_session
from telephony.calls import seconds_between
from telephony.lifecycle import ended_by_so_far
from telephony.models import Call, CallbackRequest
from telephony.survey import survey_consent_of
from transfers.directory.models import Service
from transfers.tickets.models import TransferTicket
from transfers.tickets.states import ACTIVE_STATES
from transfers.tickets.words import outcome_words, what_next

# A listener's night: a shift is at most twelve hours, so "tonight" is the last twelve.
TONIGHT = timedelta(hours=12)
EARLIER_CONTACTS_SHOWN = 10


async def call_of(session: AsyncSession, support: SupportSession) -> Call | None:
    """The caller's call: the one answered, or for a callback the one that left the message."""
    if support.call_id is not None:
        return await session.get(Call, support.call_id)
    if support.callback_request_id is not None:
        callback = await session.get(CallbackRequest, support.callback_request_id)
        return await session.get(Call, callback.call_id) if callback else None
    return None


async def _ended_by(session: AsyncSession, support: SupportSession, call: Call | None) -> str | None:
    """Only a session on the call itself: a callback's call is the one that left the message."""
    if call is None or support.call_id is None or support.ended_at is None:
        return None
    return await ended_by_so_far(session, call)


def _session_call_id():
    """SQL for the session's call id, whichever way the session reached the caller."""
    return sa.func.coalesce(SupportSession.call_id, CallbackRequest.call_id)


def _current_revision():
    return sa.and_(CallLog.id == CallLogRevision.call_log_id, CallLogRevision.revision == CallLog.current_revision)


async def describe_call_card(session: AsyncSession, *, support: SupportSession) -> dict[str, Any]:
    """The session's timer and the caller as a listener may see them: the number masked."""
    now = runtime_of(session).clock.now()
    call = await call_of(session, support)
    logged = await session.scalar(sa.select(CallLog.id).where(CallLog.session_id == support.id))
    return describe_session(support, now, ended_by=await _ended_by(session, support, call)) | {
        "caller": {
            "number": call.from_masked if call else "withheld",
            "withheld": call.from_withheld if call else True,
        },
        "callback": support.callback_request_id is not None,
        "log_recorded": logged is not None,
        "survey": await survey_consent_of(session, call.id if call else None),
    }


async def describe_repeat_caller(session: AsyncSession, *, support: SupportSession, user: User) -> dict[str, Any]:
    """Earlier contacts from the same number: when, with whom, the log's title, and any warm
    transfer still open. Withheld numbers never match anyone. A match shows the caller's history
    (found through their number's hash), so it is audited as a read of their personal data."""
    from app.core.security import User as Listener

    call = await call_of(session, support)
    if call is None or call.from_withheld or not call.from_hash:
        return {"matched": False, "withheld": True, "earlier_contacts": 0, "contacts": [], "open_transfers": []}
    # On a callback, the call that left the message is itself an earlier contact.
    earlier = sa.select(Call.id).where(
        Call.from_hash == call.from_hash,
        Call.created_at <= call.created_at,
        Call.id != (call.id if support.call_id is not None else -1),
    )
    count = await session.scalar(sa.select(sa.func.count()).select_from(earlier.subquery()))
    rows = (
        await session.execute(
            sa.select(
                Call.created_at, Call.answered_at, Listener.display_name, CallLogRevision.title, CallLogRevision.outcome
            )
            .select_from(Call)
            .outerjoin(SupportSession, SupportSession.call_id == Call.id)
            .outerjoin(Listener, Listener.id == SupportSession.listener_id)
            .outerjoin(CallLog, CallLog.session_id == SupportSession.id)
            .outerjoin(CallLogRevision, _current_revision())
            .where(Call.id.in_(earlier))
            .order_by(Call.created_at.desc(), Call.id.desc())
            .limit(EARLIER_CONTACTS_SHOWN)
        )
    ).all()
    transfers = (
        await session.execute(
            sa.select(TransferTicket.id, TransferTicket.status, TransferTicket.created_at, Service.name)
            .join(Service, Service.id == TransferTicket.service_id)
            .where(TransferTicket.call_id.in_(earlier), TransferTicket.status.in_([str(s) for s in ACTIVE_STATES]))
            .order_by(TransferTicket.created_at.desc())
        )
    ).all()
    if count:
        await record_personal_read(
            session,
            actor=f"user:{user.username}",
            subject_type="support_session",
            subject_id=support.id,
            shown="earlier_contacts",
        )
    return {
        "matched": bool(count),
        "withheld": False,
        "earlier_contacts": count or 0,
        "contacts": [
            {
                "at": (answered or created).isoformat(),
                "answered": answered is not None,
                "listener": listener,
                "title": title,
                "outcome": outcome,
            }
            for created, answered, listener, title, outcome in rows
        ],
        "open_transfers": [
            {"ticket_id": t_id, "status": status, "service": name, "created_at": at.isoformat()}
            for t_id, status, at, name in transfers
        ],
    }


async def list_calls_tonight(session: AsyncSession, *, user: User) -> list[dict[str, Any]]:
    """The listener's own sessions in the last twelve hours, newest first."""
    now = runtime_of(session).clock.now()
    rows = (
        await session.execute(
            sa.select(SupportSession, Call.from_masked, CallLogRevision.title, CallLogRevision.outcome, Call.id)
            .outerjoin(CallbackRequest, CallbackRequest.id == SupportSession.callback_request_id)
            .outerjoin(Call, Call.id == _session_call_id())
            .outerjoin(CallLog, CallLog.session_id == SupportSession.id)
            .outerjoin(CallLogRevision, _current_revision())
            .where(SupportSession.listener_id == user.id, SupportSession.started_at >= now - TONIGHT)
            .order_by(SupportSession.started_at.desc(), SupportSession.id.desc())
        )
    ).all()
    tickets = await _transfers_by_call(session, [call_id for *_, call_id in rows if call_id])
    calls = {
        call.id: call
        for call in await session.scalars(
            sa.select(Call).where(Call.id.in_([s.call_id for s, *_ in rows if s.call_id]))
        )
    }
    ended_by = {s.id: await _ended_by(session, s, calls.get(s.call_id)) for s, *_ in rows}
    return [
        {
            "session_id": support.id,
            "started_at": support.started_at.isoformat(),
            "ended_at": support.ended_at and support.ended_at.isoformat(),
            "minutes": (seconds_between(support.started_at, support.ended_at or now) or 0) // 60,
            "overrun_seconds": support.overrun_seconds,
            "caller": masked or "withheld",
            "title": title,
            "outcome": outcome,
            "log_recorded": title is not None,
            "transfer": (tickets.get(call_id) or [None])[-1],
            "transfers": tickets.get(call_id, []),
            "ended_by": ended_by[support.id],
        }
        for support, masked, title, outcome, call_id in rows
    ]


async def _transfers_by_call(session: AsyncSession, call_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Every warm transfer of each call, oldest first: a declined one and the one it was
    re-routed to are both part of the caller's night."""
    if not call_ids:
        return {}
    rows = (
        await session.execute(
            sa.select(TransferTicket, Service.name)
            .join(Service, Service.id == TransferTicket.service_id)
            .where(TransferTicket.call_id.in_(call_ids))
            .order_by(TransferTicket.id)
        )
    ).all()
    onward = {ticket.rerouted_from_id: name for ticket, name in rows if ticket.rerouted_from_id}
    out: dict[int, list[dict[str, Any]]] = {}
    for ticket, name in rows:
        out.setdefault(ticket.call_id, []).append(
            {
                "ticket_id": ticket.id,
                "status": ticket.status,
                "service": name,
                "status_reason": ticket.status_reason,
                "outcome_code": ticket.outcome_code,
                "outcome_words": outcome_words(ticket.outcome_code),
                "taken_back": ticket.taken_back_at is not None,
                "what_next": what_next(ticket.status, reason=ticket.status_reason, rerouted_to=onward.get(ticket.id)),
            }
        )
    return out
