"""Amendments after sending: the helpline adds to a ticket already in a partner's queue (a new
detail, a changed time or way to reach the caller). Each is a numbered version (who, when, which
fields, before and after), its text encrypted like the rest of the ticket's personal text; the
partner hears of it through its webhook and its dashboards, and sees what changed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import Crypto, is_withheld, mask_number, normalise_number
from app.core.db import runtime_of
from app.core.errors import Unprocessable
from transfers.directory.models import Service
from transfers.tickets.models import TicketAmendment, TicketEvent, TransferTicket
from transfers.tickets.service import announce, find_ticket
from transfers.tickets.states import TERMINAL_STATES, TicketState, TicketStateError
from transfers.tickets.words import AMENDED_FIELDS

CONTACT_METHODS = ("phone", "text")


@dataclass(frozen=True)
class Amendment:
    """What the helpline wants to add or change; None leaves a field as it is."""

    detail: str | None = None
    preferred_times: str | None = None
    contact_method: str | None = None
    contact_number: str | None = None


def _changes(crypto: Crypto, ticket: TransferTicket, amendment: Amendment) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the partner will read, the new column values): only fields that really change."""
    changes: dict[str, Any] = {}
    columns: dict[str, Any] = {}
    if detail := (amendment.detail or "").strip():
        changes["detail"] = {"before": None, "after": detail}
    times = (amendment.preferred_times or "").strip()
    if times and times != (ticket.preferred_times or ""):
        changes["preferred_times"] = {"before": ticket.preferred_times, "after": times}
        columns["preferred_times"] = times
    method = amendment.contact_method
    if method is not None and method != ticket.contact_method:
        if method not in CONTACT_METHODS:
            raise Unprocessable("contact_method", f"choose one of: {', '.join(CONTACT_METHODS)}")
        changes["contact_method"] = {"before": ticket.contact_method, "after": method}
        columns["contact_method"] = method
    if amendment.contact_number:
        number = normalise_number(amendment.contact_number)
        if len(number) < 8 or is_withheld(number):
            raise Unprocessable("contact_number", "not a phone number the partner can ring")
        before = crypto.decrypt(ticket.contact_number_encrypted)
        if number != before:
            changes["contact_number"] = {"before": before, "after": number}
            columns["contact_number_encrypted"] = crypto.encrypt(number)
    return changes, columns


async def amend_ticket(
    session: AsyncSession, *, ticket: TransferTicket, amendment: Amendment, actor: str
) -> TicketAmendment:
    """Version N+1 of a sent ticket, its trail step and the partner's notification, in this
    transaction. A closed ticket is 409 naming its state; nothing to change is 422."""
    if TicketState(ticket.status) in TERMINAL_STATES:
        raise TicketStateError(
            f"cannot amend a ticket that is {ticket.status}: it is closed", state=ticket.status, allowed=[]
        )
    runtime = runtime_of(session)
    changes, columns = _changes(runtime.crypto, ticket, amendment)
    if not changes:
        raise Unprocessable(
            "detail", "nothing to change: add a detail, or change when or how the partner can reach the caller"
        )
    now = runtime.clock.now()
    version = ticket.amendment_version + 1
    # Two amendments racing: the version (and the state) must still be what was checked. The
    # ticket's own version (a FHIR Task's ETag) moves too: the contact details it carries changed.
    moved = await session.execute(
        sa.update(TransferTicket)
        .where(
            TransferTicket.id == ticket.id,
            TransferTicket.amendment_version == ticket.amendment_version,
            TransferTicket.status.not_in([str(s) for s in TERMINAL_STATES]),
        )
        .values(amendment_version=version, version=TransferTicket.version + 1, updated_at=now, **columns)
        .execution_options(synchronize_session=False)
    )
    ticket = await find_ticket(session, ticket.id)
    if not moved.rowcount:
        raise TicketStateError(
            f"the ticket changed meanwhile (now {ticket.status}, version {ticket.amendment_version}): look again",
            state=ticket.status,
        )
    fields = list(changes)
    row = TicketAmendment(
        ticket_id=ticket.id,
        version=version,
        at=now,
        actor=actor,
        fields=fields,
        changes_encrypted=runtime.crypto.encrypt(json.dumps(changes, ensure_ascii=False)),
    )
    session.add(row)
    # The trail is plaintext: it names the fields, never their values.
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=now,
            actor=actor,
            action="amend",
            from_status=ticket.status,
            to_status=ticket.status,
            reason=f"version {version}: " + ", ".join(AMENDED_FIELDS[f] for f in fields),
        )
    )
    await session.flush()
    service = await session.get(Service, ticket.service_id)
    assert service is not None
    await announce(
        session, ticket, service, "ticket.amended", extra={"amendment": {"version": version, "fields": fields}}
    )
    return row


async def list_amendments(session: AsyncSession, *, ticket: TransferTicket, masked: bool) -> list[dict[str, Any]]:
    """Every version, oldest first, with before and after. ``masked``: the helpline's screens show
    numbers masked; the partner reads them whole (the caller agreed to share them)."""
    crypto = runtime_of(session).crypto
    rows = (
        await session.scalars(
            sa.select(TicketAmendment).where(TicketAmendment.ticket_id == ticket.id).order_by(TicketAmendment.version)
        )
    ).all()
    out = []
    for row in rows:
        changes = json.loads(crypto.decrypt(row.changes_encrypted) or "{}")
        if masked and "contact_number" in changes:
            number = changes["contact_number"]
            changes["contact_number"] = {"before": mask_number(number["before"]), "after": mask_number(number["after"])}
        out.append(
            {
                "version": row.version,
                "at": row.at.isoformat(),
                "actor": row.actor,
                "fields": list(row.fields),
                "changes": changes,
            }
        )
    return out


def added_details(amendments: list[dict[str, Any]]) -> list[str]:
    return [a["changes"]["detail"]["after"] for a in amendments if "detail" in a["changes"]]
