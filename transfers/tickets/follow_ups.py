"""The helpline team's follow-ups: callers whose warm transfer could not go through (declined back
to the helpline, or the partner could not reach them). Until one is resolved, the helpline still
owns that caller."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import runtime_of
from app.core.errors import Conflict, NotFound
from app.core.events import publish_live
from app.core.security import User
from telephony.models import Call
from transfers.directory.models import Service
from transfers.tickets.models import FollowUp, TicketEvent, TransferTicket
from transfers.tickets.words import outcome_words

TAKE_BACK = "take_back"


async def take_back_ticket(session: AsyncSession, *, ticket: TransferTicket, reason: str) -> bool:
    """The caller comes back to the helpline team's follow-ups: exactly once per ticket, however
    many times this runs (a job run twice, a give-up racing a timer). The trail says so in the same
    transaction. Returns whether this call was the one that took the ticket back."""
    now = runtime_of(session).clock.now()
    taken = await session.execute(
        sa.update(TransferTicket)
        .where(TransferTicket.id == ticket.id, TransferTicket.taken_back_at.is_(None))
        .values(taken_back_at=now)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:
        return False
    ticket.taken_back_at = now
    session.add(FollowUp(ticket_id=ticket.id, call_id=ticket.call_id, reason=reason, created_at=now))
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=now,
            actor="openline:take-back",
            action=TAKE_BACK,
            from_status=ticket.status,
            to_status=ticket.status,
            reason="back with the helpline team's follow-ups",
        )
    )
    await session.flush()
    data = {"ticket_id": ticket.id, "reason": reason}
    await publish_live(session, "role:supervisor", "follow-up.created", data)
    await publish_live(session, f"user:{ticket.created_by}", "follow-up.created", data)
    return True


async def list_open_follow_ups(session: AsyncSession) -> list[dict[str, Any]]:
    """Oldest first: the caller who has waited longest for the helpline to act comes first."""
    rows = (
        await session.execute(
            sa.select(
                FollowUp,
                TransferTicket.status,
                TransferTicket.urgent,
                TransferTicket.outcome_code,
                TransferTicket.journey_id,
                Service.name,
                Call.from_masked,
                User.display_name,
            )
            .outerjoin(TransferTicket, TransferTicket.id == FollowUp.ticket_id)
            .outerjoin(Service, Service.id == TransferTicket.service_id)
            .outerjoin(Call, Call.id == FollowUp.call_id)
            .outerjoin(User, User.id == TransferTicket.created_by)
            .where(FollowUp.resolved_at.is_(None))
            .order_by(FollowUp.created_at, FollowUp.id)
        )
    ).all()
    return [
        {
            "id": f.id,
            "ticket_id": f.ticket_id,
            "ticket_status": status,
            "urgent": bool(urgent),
            "outcome_code": code,
            "outcome_words": outcome_words(code),
            "journey_id": journey,
            "service": service,
            "caller": masked or "unknown",
            "listener": listener,
            "reason": f.reason,
            "created_at": f.created_at.isoformat(),
        }
        for f, status, urgent, code, journey, service, masked, listener in rows
    ]


async def resolve_follow_up(session: AsyncSession, *, follow_up_id: int, user: User, note: str) -> dict[str, Any]:
    """Say what was done for the caller; recorded in the audit trail."""
    now = runtime_of(session).clock.now()
    resolved = await session.execute(
        sa.update(FollowUp)
        .where(FollowUp.id == follow_up_id, FollowUp.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by=user.id)
    )
    if not resolved.rowcount:
        if await session.get(FollowUp, follow_up_id) is None:
            raise NotFound("no such follow-up")
        raise Conflict("this follow-up was already resolved", error="already_resolved")
    await record_audit(
        session,
        actor=f"user:{user.username}",
        action="resolve_follow_up",
        subject_type="follow_up",
        subject_id=follow_up_id,
        note=note,
    )
    await publish_live(session, "role:supervisor", "follow-up.resolved", {"id": follow_up_id})
    return {"id": follow_up_id, "resolved_at": now.isoformat(), "resolved_by": user.display_name}
