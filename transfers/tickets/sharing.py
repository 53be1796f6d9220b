"""What a partner sees of a caller: only on its own service's ticket, only what the caller
agreed to share, and every read recorded."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import runtime_of
from app.core.errors import NotFound
from transfers.directory.models import Service
from transfers.tickets.amendments import added_details, list_amendments
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
    amendments = await list_amendments(session, ticket=ticket, masked=False)
    journey = await describe_journey(session, ticket=ticket, organisation_id=service.organisation_id)
    return describe_ticket_status(ticket, service) | {
        "journey_id": ticket.journey_id if journey is not None else None,
        "journey": journey or [],
        "amendments": amendments,
        "added_details": added_details(amendments),
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


async def describe_journey(
    session: AsyncSession, *, ticket: TransferTicket, organisation_id: int
) -> list[dict[str, Any]] | None:
    """The caller's other warm transfers on this journey, as a partner on it may see them: the
    service and its state, nothing of another organisation's notes. None (nothing to see) unless
    the caller agreed to share the journey on this ticket; another ticket shows only when the
    caller agreed on that one too."""
    if not ticket.share_journey:
        return None
    rows = (
        await session.execute(
            sa.select(TransferTicket.status, TransferTicket.updated_at, Service.name, Service.organisation_id)
            .join(Service, Service.id == TransferTicket.service_id)
            .where(
                TransferTicket.journey_id == ticket.journey_id,
                TransferTicket.share_journey.is_(True),
                TransferTicket.id != ticket.id,
            )
            .order_by(TransferTicket.created_at, TransferTicket.id)
        )
    ).all()
    return [
        {"service": name, "status": status, "updated_at": updated_at.isoformat(), "yours": org == organisation_id}
        for status, updated_at, name, org in rows
    ]


async def show_journey(session: AsyncSession, *, ticket: TransferTicket, organisation_id: int) -> dict[str, Any]:
    journey = await describe_journey(session, ticket=ticket, organisation_id=organisation_id)
    if journey is None:
        # Without the caller's consent the journey is not there to see, not forbidden.
        raise NotFound("no shared journey for this ticket", error="no_journey")
    return {"journey_id": ticket.journey_id, "ticket_id": ticket.id, "others": journey}
