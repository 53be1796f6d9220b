"""The helpline's side of a warm transfer: from a support session's call log (record once) to a
ticket in a partner's queue, and the listener's view of it until the handover is confirmed."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_personal_read
from app.core.crypto import is_withheld, mask_number, normalise_number
from app.core.db import runtime_of
from app.core.errors import NotFound, Unprocessable
from app.core.responses import DbId
from app.core.security import User
from app.helpline.call_log import current_consent
from app.helpline.history import call_of
from app.helpline.models import SupportSession
from transfers.directory.models import Locality, Service
from transfers.live_transfer import begin_live_transfer, check_live_transfer, hand_over
from transfers.routing import CallerCircumstances, Suggestion
from transfers.tickets.amendments import Amendment, added_details, amend_ticket, list_amendments
from transfers.tickets.models import FollowUp, TransferTicket
from transfers.tickets.service import (
    ActionInput,
    TransferRequest,
    apply_action,
    create_ticket,
    describe_ticket_status,
    describe_what_next,
    find_ticket,
    list_call_tickets,
    reroute_ticket,
    rerouted_to,
    suggest_services,
)
from transfers.tickets.sharing import ticket_trail
from transfers.tickets.states import TicketAction

URGENT_RISK = ("high", "immediate")


class TransferIn(BaseModel):
    service_id: DbId
    urgent: bool = Field(
        False,
        description="Urgent tickets use the service's tighter targets; high or "
        "immediate risk in the log makes a ticket urgent anyway.",
    )
    contact_method: Literal["phone", "text"] = "phone"
    contact_number: str | None = Field(None, max_length=32, description="Defaults to the number the caller rang from")
    caller_name: str | None = Field(None, max_length=120)
    preferred_times: str | None = Field(None, max_length=300, description="When the caller would like to be contacted")
    age: int | None = Field(None, ge=0, le=120)
    locality: str | None = Field(None, max_length=40)
    share_summary: bool = Field(True, description="Send the log's summary, as the caller agreed")
    mode: Literal["queue", "live"] = Field(
        "queue", description="live: dial the partner's line into the call now (the service's live line must be open)"
    )
    share_journey: bool = Field(
        False,
        description="The caller agreed that the partners helping them may see each other's status "
        "(service and state only) on their journey",
    )


class AmendIn(BaseModel):
    """Add to a ticket already sent: a new detail, or a changed time or way to reach the caller."""

    detail: str | None = Field(None, max_length=2000, description="Something the partner should know now")
    preferred_times: str | None = Field(None, max_length=300)
    contact_method: Literal["phone", "text"] | None = None
    contact_number: str | None = Field(None, max_length=32)


class CancelIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


class RerouteIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500)
    service_id: DbId | None = Field(None, description="Default: the next suggested service not yet tried")


async def _check_consent(session: AsyncSession, support: SupportSession):
    consent = await current_consent(session, support.id)
    if consent is None:
        raise Unprocessable(
            "consent_to_share", "record the call log, with the caller's consent, before a warm transfer"
        )
    if not consent.given:
        raise Unprocessable("consent_to_share", "the caller did not consent to share: no warm transfer can be made")
    return consent


async def _contact_number(session: AsyncSession, support: SupportSession, entry: TransferIn) -> str | None:
    crypto = runtime_of(session).crypto
    if entry.contact_number:
        number = normalise_number(entry.contact_number)
        if len(number) < 8 or is_withheld(number):
            raise Unprocessable("contact_number", "not a phone number the partner can ring")
        return crypto.encrypt(number)
    call = await call_of(session, support)
    if call is None or call.from_withheld or not call.from_encrypted:
        raise Unprocessable("contact_number", "the caller's number was withheld: ask how the partner can reach them")
    return call.from_encrypted


async def suggest_for_session(
    session: AsyncSession,
    *,
    support: SupportSession,
    age: int | None,
    locality: str | None,
    urgent: bool,
    needs: list[str] | None,
) -> list[Suggestion]:
    consent = await current_consent(session, support.id)
    chosen = needs or (consent.needs if consent else [])
    caller = CallerCircumstances(
        needs=frozenset(chosen),
        age=age,
        locality=locality,
        urgent=urgent or bool(consent and consent.risk_level in URGENT_RISK),
    )
    return await suggest_services(session, caller=caller)


async def make_warm_transfer(
    session: AsyncSession, *, support: SupportSession, entry: TransferIn, user: User, idempotency_key: str | None
) -> tuple[dict[str, Any], bool]:
    """A ticket carrying what was logged and the caller agreed to share; needs their consent."""
    consent = await _check_consent(session, support)
    if entry.locality and not await session.scalar(sa.select(Locality.id).where(Locality.slug == entry.locality)):
        raise Unprocessable("locality", f"unknown locality {entry.locality!r}")
    if entry.mode == "live" and (service := await session.get(Service, entry.service_id)) is not None:
        await check_live_transfer(session, service=service, call_id=support.call_id)
    call = await call_of(session, support)
    request = TransferRequest(
        service_id=entry.service_id,
        created_by=user.id,
        call_id=call.id if call else None,
        idempotency_key=idempotency_key,
        urgent=entry.urgent or consent.risk_level in URGENT_RISK,
        needs=consent.needs,
        risk_level=consent.risk_level,
        age=entry.age,
        locality=entry.locality,
        caller_name=entry.caller_name,
        contact_number_encrypted=await _contact_number(session, support, entry),
        contact_method=entry.contact_method,
        preferred_times=entry.preferred_times,
        shared_summary=consent.summary if entry.share_summary else None,
        consent_covers=consent.covers or "",
        consent_recorded_at=consent.recorded_at,
        consent_recorded_by=consent.recorded_by,
        sms_consent=consent.sms_consent,
        mode=entry.mode,
        share_journey=entry.share_journey,
    )
    ticket, created = await create_ticket(session, request=request, actor=f"user:{user.username}")
    if created and ticket.mode == "live":
        await begin_live_transfer(session, ticket=ticket)
    return await describe_for_helpline(session, ticket=ticket), created


async def own_ticket(session: AsyncSession, ticket_id: int, user: User) -> TransferTicket:
    """A listener sees the tickets they made; supervisors see every ticket. Another listener's is
    "no such ticket", as on the partner side."""
    ticket = await find_ticket(session, ticket_id)
    if ticket.created_by != user.id and user.role not in ("supervisor", "admin"):
        raise NotFound("no such ticket", error="no_ticket")
    return ticket


async def cancel_warm_transfer(
    session: AsyncSession, *, ticket: TransferTicket, reason: str, user: User
) -> dict[str, Any]:
    ticket = await apply_action(
        session, ticket=ticket, change=ActionInput(TicketAction.cancel, f"user:{user.username}", reason=reason)
    )
    return await describe_for_helpline(session, ticket=ticket)


async def reroute_warm_transfer(
    session: AsyncSession, *, ticket: TransferTicket, entry: RerouteIn, user: User
) -> dict[str, Any]:
    rerouted = await reroute_ticket(
        session, ticket=ticket, actor=f"user:{user.username}", reason=entry.reason, service_id=entry.service_id
    )
    return await describe_for_helpline(session, ticket=rerouted)


async def amend_warm_transfer(
    session: AsyncSession, *, ticket: TransferTicket, entry: AmendIn, user: User
) -> dict[str, Any]:
    await amend_ticket(
        session,
        ticket=ticket,
        amendment=Amendment(
            detail=entry.detail,
            preferred_times=entry.preferred_times,
            contact_method=entry.contact_method,
            contact_number=entry.contact_number,
        ),
        actor=f"user:{user.username}",
    )
    return await describe_for_helpline(session, ticket=await find_ticket(session, ticket.id), reader=user)


async def hand_over_live(session: AsyncSession, *, ticket: TransferTicket) -> dict[str, Any]:
    return await describe_for_helpline(session, ticket=await hand_over(session, ticket=ticket))


async def describe_for_helpline(
    session: AsyncSession, *, ticket: TransferTicket, reader: User | None = None
) -> dict[str, Any]:
    """The ticket as the helpline follows it: status, targets, the trail; the number masked. What
    was added after sending is decrypted here, so showing it to ``reader`` is an audited read."""
    service = await session.get(Service, ticket.service_id)
    assert service is not None
    crypto = runtime_of(session).crypto
    onward = await rerouted_to(session, ticket)
    follow_up = await session.scalar(sa.select(FollowUp.reason).where(FollowUp.ticket_id == ticket.id))
    amendments = await list_amendments(session, ticket=ticket, masked=True)
    if amendments and reader is not None:
        await record_personal_read(
            session, actor=f"user:{reader.username}", subject_type="transfer_ticket", subject_id=ticket.id
        )
    return describe_ticket_status(ticket, service) | {
        "journey_id": ticket.journey_id,
        "share_journey": ticket.share_journey,
        "contact_method": ticket.contact_method,
        "preferred_times": ticket.preferred_times,
        "amendments": amendments,
        "added_details": added_details(amendments),
        "contact_number": mask_number(crypto.decrypt(ticket.contact_number_encrypted)),
        "rerouted_to_id": onward.id if onward else None,
        "follow_up": follow_up,
        "declined_reason": await _declined_reason(session, ticket),
        "what_next": await describe_what_next(session, ticket),
        "events": await ticket_trail(session, ticket.id),
    }


async def _declined_reason(session: AsyncSession, ticket: TransferTicket) -> str | None:
    """The reason the partner gave for declining this caller: on this ticket, or on the one it
    was re-routed from (the listener follows the new ticket and must still see why)."""
    if ticket.status == "rejected":
        return ticket.status_reason
    previous = await session.get(TransferTicket, ticket.rerouted_from_id) if ticket.rerouted_from_id else None
    return previous.status_reason if previous is not None and previous.status == "rejected" else None


async def list_session_transfers(
    session: AsyncSession, *, support: SupportSession, reader: User | None = None
) -> list[dict[str, Any]]:
    call = await call_of(session, support)
    if call is None:
        return []
    return [
        await describe_for_helpline(session, ticket=t, reader=reader)
        for t in await list_call_tickets(session, call_id=call.id)
    ]


def describe_suggestion(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "service_id": suggestion.service_id,
        "name": suggestion.name,
        "organisation": suggestion.organisation,
        "rank": suggestion.rank,
        "reasons": list(suggestion.reasons),
        "open_now": suggestion.open_now,
        "live_transfer_possible": suggestion.live_transfer_possible,
        "matched_needs": list(suggestion.matched_needs),
        "fallback": suggestion.fallback,
        "available": suggestion.available,
        "at_capacity": suggestion.at_capacity,
        "places": suggestion.places,
        "maximum": suggestion.maximum,
        "waiting_list": suggestion.waiting_list,
        "capacity_updated_at": suggestion.capacity_updated_at,
        "capacity_stale": suggestion.capacity_stale,
        "capacity_words": list(suggestion.capacity_words),
    }
