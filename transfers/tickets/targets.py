"""Accept-by and contact-by breaches: stored jobs that fire once (a restart loses none), flag the
ticket to supervisors, and for an unaccepted ticket offer re-routing."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.events import publish_live
from app.core.jobs import Job
from app.core.runtime import Runtime
from transfers.directory.models import Service
from transfers.tickets.models import TransferTicket
from transfers.tickets.service import ACCEPT_BREACH, CONTACT_BREACH, describe_ticket_status

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


def register(runtime: Runtime) -> None:
    runtime.jobs.register(ACCEPT_BREACH, flag_breach)
    runtime.jobs.register(CONTACT_BREACH, flag_breach)
