"""The partner API (``/api/partner/v1``): a partner's own services and their queues.

A partner sees only its own organisation's services; anything else is a 404, so ids of other
organisations' services and tickets are never confirmed to exist.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from app.core.db import runtime_of
from app.core.deps import CurrentPartner, SessionDep
from app.core.errors import NotFound
from app.core.responses import PathId, error_responses
from transfers.directory import service as directory
from transfers.directory.schemas import AvailabilityUpdate, PartnerServiceOut, ServiceOut
from transfers.tickets.models import TransferTicket
from transfers.tickets.polling import DEFAULT_PAGE, MAX_PAGE, list_changed_tickets, parse_moment
from transfers.tickets.schemas import JourneyOut, PartnerTicketOut, TicketPageOut
from transfers.tickets.service import REROUTE_NEXT, ActionInput, apply_action, find_ticket, list_queue
from transfers.tickets.sharing import describe_for_partner, show_journey
from transfers.tickets.states import HELPED, NOT_HELPED, OUTCOME_CODES, TicketAction

# 403: a signed-in account that is not a partner's; 409: an action the ticket's state does not allow.
router = APIRouter(prefix="/api/partner/v1", tags=["partner"], responses=error_responses(401, 403, 404, 409, 413, 422))


async def own_service(service_id: PathId, session: SessionDep, partner: CurrentPartner) -> directory.Service:
    """A service of the partner's own organisation; any other id is "no such service" (404)."""
    service = await session.get(directory.Service, service_id)
    if service is None or service.organisation_id != partner.organisation_id:
        raise NotFound("no such service")
    return await directory.find_service(session, service_id)


OwnService = Annotated[directory.Service, Depends(own_service)]


@router.get("/services", response_model=list[PartnerServiceOut])
async def show_own_services(session: SessionDep, partner: CurrentPartner):
    """Your organisation's services, each with what you said of it today (open, paused, on
    holiday; places, maximum, waiting list and when last given) and whether routing is suggesting
    it now."""
    now = runtime_of(session).clock.now()
    return [
        directory.partner_service_out(s, now)
        for s in await directory.list_services(session, organisation_id=partner.organisation_id)
    ]


@router.patch("/services/{service_id}", response_model=PartnerServiceOut)
async def change_own_service(
    service: OwnService, change: AvailabilityUpdate, session: SessionDep, partner: CurrentPartner
):
    """Open, pause or close for a holiday (until a day, with a note); capacity: places for more
    warm transfers now (``spaces``, 0 = at capacity), the ``maximum`` at once and the
    ``waiting_list`` band (giving them again, unchanged, confirms them); opening hours and planned
    closures; the live line. Routing uses it at once: a paused or closed service is not suggested
    and its live line is never dialled; one at capacity is still suggested, lower, and the
    listener is told before sending."""
    service = await directory.update_availability(session, service=service, change=change, actor=partner.actor)
    return directory.partner_service_out(service, runtime_of(session).clock.now())


class QueuedTicket(BaseModel):
    id: int
    status: str
    urgent: bool
    needs: list[str]
    accept_by: datetime
    contact_by: datetime
    created_at: datetime
    amendment_version: int = Field(0, description="Changed by the helpline after sending (0: as first sent)")


class ServiceQueue(BaseModel):
    service: ServiceOut
    tickets: list[QueuedTicket]


@router.get("/services/{service_id}/queue", response_model=ServiceQueue)
async def show_service_queue(service: OwnService, session: SessionDep):
    """The service's enhanced-support queue: open tickets, urgent first, then newest."""
    tickets = await list_queue(session, service_id=service.id)
    return ServiceQueue(
        service=directory.service_out(service),
        tickets=[QueuedTicket.model_validate(t, from_attributes=True) for t in tickets],
    )


async def partner_ticket(ticket_id: PathId, session: SessionDep, partner: CurrentPartner) -> TransferTicket:
    """A ticket of one of the partner's own services; any other id is "no such ticket" (404)."""
    return await find_ticket(session, ticket_id, organisation_id=partner.organisation_id)


PartnerTicket = Annotated[TransferTicket, Depends(partner_ticket)]


class PartnerAction(StrEnum):
    accept = "accept"
    decline = "decline"
    contact_attempt = "contact-attempt"
    confirm_contact = "confirm-contact"
    complete = "complete"
    give_up = "give-up"


ACTIONS = {
    PartnerAction.accept: TicketAction.accept,
    PartnerAction.decline: TicketAction.reject,
    PartnerAction.contact_attempt: TicketAction.attempt_failed,
    PartnerAction.confirm_contact: TicketAction.confirm_contact,
    PartnerAction.complete: TicketAction.complete,
    PartnerAction.give_up: TicketAction.give_up,
}
# A 409 names what the partner may do now as its own paths; "cancel" is the helpline's.
PATHS = {ticket_action: path.value for path, ticket_action in ACTIONS.items()}


OutcomeCode = Literal[tuple([*HELPED, *NOT_HELPED])]  # type: ignore[valid-type]


class ActionIn(BaseModel):
    reason: str | None = Field(None, max_length=1000, description="Required to decline or give up")
    outcome: str | None = Field(None, max_length=1000, description="Required to complete")
    outcome_code: OutcomeCode | None = Field(
        None, description="Required to complete (how the caller was helped), decline or give up (why not)"
    )
    reroute: Literal["next", "helpline"] = Field(
        REROUTE_NEXT,
        description="On decline: send the caller to the next suggested service, or ask the "
        "helpline team to choose with the caller",
    )


class OutcomeCodeOut(BaseModel):
    code: str
    words: str = Field(description="The helpline's words for it, as a person should see it")


class OutcomeCodesOut(BaseModel):
    """The codes each action takes, by the action's path."""

    model_config = ConfigDict(populate_by_name=True)

    complete: list[OutcomeCodeOut] = Field(description="How the caller was helped")
    decline: list[OutcomeCodeOut] = Field(description="Why the warm transfer did not go through")
    give_up: list[OutcomeCodeOut] = Field(alias="give-up", description="Why the warm transfer did not go through")


@router.get("/outcome-codes", response_model=OutcomeCodesOut)
async def show_outcome_codes(_partner: CurrentPartner):
    """The coded outcomes each action takes, by its path (complete: how the caller was helped;
    decline and give-up: why not). The one list: the partner page draws its choices from it."""
    return {
        path: [{"code": code, "words": words} for code, words in OUTCOME_CODES[action].items()]
        for action, path in PATHS.items()
        if action in OUTCOME_CODES
    }


@router.get("/tickets", response_model=TicketPageOut)
async def show_changed_tickets(
    session: SessionDep,
    partner: CurrentPartner,
    updated_since: Annotated[
        str | None,
        Query(
            max_length=40,
            description="ISO 8601 with its offset (e.g. 2026-11-24T21:00:00Z): tickets changed at or after it",
        ),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor from the last page or the last poll")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size, at most {MAX_PAGE}")] = DEFAULT_PAGE,
):
    """The polling contract beside the webhooks: your organisation's tickets changed since a
    moment, oldest change first, ordered by ``updated_at`` then ``id`` (stable under ties). Keep
    ``next_cursor`` and send it next time; while ``more`` is true ask again at once.

    Limits: at most 200 a page; poll no more than once a minute (webhooks tell you sooner); a
    change is listed once it is 30 seconds old (so one still being saved is never left behind a
    cursor); clocks differ, so when you poll by ``updated_since`` rather than a cursor, go back two
    minutes and de-duplicate on ``(ticket_id, updated_at)``. No personal data here: fetch a ticket to read it
    (that read is audited). A time without its offset, or not ISO 8601, is 422."""
    return await list_changed_tickets(
        session,
        organisation_id=partner.organisation_id,
        updated_since=parse_moment(updated_since) if updated_since is not None else None,
        cursor=cursor,
        limit=limit,
    )


@router.get("/tickets/{ticket_id}", response_model=PartnerTicketOut)
async def show_ticket(ticket: PartnerTicket, session: SessionDep, partner: CurrentPartner):
    """What the caller agreed to share, how and when to reach them, the targets and the trail.
    Every read is audited."""
    return await describe_for_partner(session, ticket=ticket, actor=partner.actor)


@router.post("/tickets/{ticket_id}/{action}", response_model=PartnerTicketOut)
async def act_on_ticket(
    action: PartnerAction,
    ticket: PartnerTicket,
    session: SessionDep,
    partner: CurrentPartner,
    entry: ActionIn | None = None,
):
    """accept · decline (reason) · contact-attempt (a failed try) · confirm-contact (handover
    confirmed) · complete (outcome) · give-up (reason). An action the ticket's state does not
    allow is 409 with the current ``state``."""
    entry = entry or ActionIn()
    ticket = await apply_action(
        session,
        ticket=ticket,
        change=ActionInput(
            ACTIONS[action],
            partner.actor,
            reason=entry.reason,
            outcome=entry.outcome,
            outcome_code=entry.outcome_code,
            reroute=entry.reroute,
            names=PATHS,
        ),
    )
    # The answer carries the caller's details, so it is audited as a read after the move too.
    return await describe_for_partner(session, ticket=ticket, actor=partner.actor)


@router.get("/tickets/{ticket_id}/journey", response_model=JourneyOut)
async def show_ticket_journey(ticket: PartnerTicket, session: SessionDep, partner: CurrentPartner):
    """The caller's other warm transfers on the same journey (service and state only), when the
    caller agreed that the partners helping them may see each other's status; 404 otherwise."""
    return await show_journey(session, ticket=ticket, organisation_id=partner.organisation_id)
