"""What a partner sees of a caller: only on its own service's ticket, only what the caller
agreed to share, and every read recorded."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import runtime_of
from transfers.directory.models import Service
from transfers.tickets.models import TicketEvent, TransferTicket
from transfers.tickets.service import describe_ticket_status, describe_what_next
from transfers.tickets.states import allowed_actions


async def ticket_trail(session: AsyncSession, ticket_id: int) -> list[dict[str, Any]]:
    events = (
        await session.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id))
    ).all()
    return [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "from": e.from_status,
            "to": e.to_status,
            "reason": e.reason,
            "outcome_code": e.outcome_code,
        }
        for e in events
    ]


async def describe_for_partner(session: AsyncSession, *, ticket: TransferTicket, actor: str) -> dict[str, Any]:
    """Always audited: every answer that carries the caller's details is a read of them."""
    service = await session.get(Service, ticket.service_id)
    assert service is not None
    crypto = runtime_of(session).crypto
    await record_audit(
        session, actor=actor, action="read_caller_details", subject_type="transfer_ticket", subject_id=ticket.id
    )
    return describe_ticket_status(ticket, service) | {
        "caller_name": crypto.decrypt(ticket.caller_name_encrypted),
        "contact_method": ticket.contact_method,
        "contact_number": crypto.decrypt(ticket.contact_number_encrypted),
        "preferred_times": ticket.preferred_times,
        "age": ticket.age,
        "locality": ticket.locality,
        "shared_summary": crypto.decrypt(ticket.shared_summary_encrypted),
        "consent": {
            "covers": ticket.consent_covers,
            "recorded_at": ticket.consent_recorded_at.isoformat(),
            "sms": ticket.sms_consent,
        },
        "contact_attempts": ticket.contact_attempts,
        "outcome": ticket.outcome,
        "allowed_actions": [a.value for a in allowed_actions(ticket.status)],
        "what_next": await describe_what_next(session, ticket),
        "events": await ticket_trail(session, ticket.id),
    }
