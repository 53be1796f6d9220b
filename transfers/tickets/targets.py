"""Accept-by and contact-by breaches: stored jobs that fire once (a restart loses none), flag the
ticket to supervisors, and for an unaccepted ticket offer re-routing; a while later, a ticket
still not accepted is taken back by the helpline so the caller is never left unowned."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.events import publish_live
from app.core.jobs import Job
from app.core.runtime import Runtime
from transfers.directory.models import Service
from transfers.tickets.follow_ups import take_back_ticket
from transfers.tickets.models import TransferTicket
from transfers.tickets.service import (
    ACCEPT_BREACH,
    CONTACT_BREACH,
    TAKE_BACK_JOB,
    ActionInput,
    apply_action,
    describe_ticket_status,
    find_ticket,
)
from transfers.tickets.states import TicketAction, TicketStateError

# Which states still count against each target.
WAITING_FOR = {ACCEPT_BREACH: ("requested",), CONTACT_BREACH: ("requested", "accepted", "on-hold")}


async def flag_breach(session: AsyncSession, job: Job) -> None:
    ticket = await session.get(TransferTicket, job.payload["ticket_id"])
    if ticket is None or ticket.status not in WAITING_FOR[job.kind]:
        return  # met in time, or closed: nothing to flag
    now = runtime_of(session).clock.now()
    column = "accept_breached_at" if job.kind == ACCEPT_BREACH else "contact_breached_at"
    flagged = await session.execute(
        sa.update(TransferTicket)
        .where(TransferTicket.id == ticket.id, getattr(TransferTicket, column).is_(None))
        .values({column: now})
    )
    if not flagged.rowcount:
        return
    await session.refresh(ticket)
    service = await session.get(Service, ticket.service_id)
    assert service is not None
    data = describe_ticket_status(ticket, service) | {
        "breach": "accept" if job.kind == ACCEPT_BREACH else "contact",
        "offer_reroute": job.kind == ACCEPT_BREACH,
    }
    await publish_live(session, "role:supervisor", "ticket.breach", data)
    await publish_live(session, f"user:{ticket.created_by}", "ticket.changed", data)
    await publish_live(session, f"org:{service.organisation_id}", "ticket.breach", data)


async def take_back_unaccepted(session: AsyncSession, job: Job) -> None:
    """The accept-by passed, supervisors were told, and still nobody accepted or re-routed the
    caller: withdraw the ticket from the partner (who is told it is cancelled) and bring the caller
    back to the helpline team's follow-ups. A ticket that moved on meanwhile is left alone; a second
    run finds it cancelled and does nothing."""
    ticket = await session.get(TransferTicket, job.payload["ticket_id"])
    if ticket is None or ticket.status != "requested":
        return
    ticket = await find_ticket(session, ticket.id, lock=True)
    service = await session.get(Service, ticket.service_id)
    assert service is not None
    try:
        ticket = await apply_action(
            session,
            ticket=ticket,
            change=ActionInput(
                TicketAction.cancel,
                "openline:take-back",
                reason=f"not accepted in time by {service.name}; the helpline team has taken the caller back",
            ),
        )
    except TicketStateError:
        return  # the partner accepted (or someone re-routed) at the same moment: they own the caller
    await take_back_ticket(
        session,
        ticket=ticket,
        reason=f"Not accepted in time by {service.name}. Choose another service with the caller.",
    )


def register(runtime: Runtime) -> None:
    runtime.jobs.register(TAKE_BACK_JOB, take_back_unaccepted)
    runtime.jobs.register(ACCEPT_BREACH, flag_breach)
    runtime.jobs.register(CONTACT_BREACH, flag_breach)
