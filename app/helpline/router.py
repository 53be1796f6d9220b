"""Listener API for support sessions, and the helpline's side of its warm transfers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from app.core.deps import ClockDep, CurrentListener, SessionDep
from app.core.responses import SIGNED_IN, PathId, error_responses
from app.helpline.call_log import (
    CallLogIn,
    CorrectionIn,
    SurveyConsentIn,
    correct_call_log,
    read_call_log,
    record_call_log,
    record_survey_answer,
)
from app.helpline.deps import OwnSession, OwnTicket
from app.helpline.history import describe_call_card, describe_repeat_caller, list_calls_tonight
from app.helpline.schemas import (
    CallCardOut,
    CallLogOut,
    HelplineTicketOut,
    RepeatCallerOut,
    SessionOut,
    SuggestionOut,
    SurveyConsentOut,
    TonightCallOut,
)
from app.helpline.sessions import describe_session, end_callback_session, find_current_session, start_callback_session
from app.helpline.transfers import (
    AmendIn,
    CancelIn,
    RerouteIn,
    TransferIn,
    amend_warm_transfer,
    cancel_warm_transfer,
    describe_for_helpline,
    describe_suggestion,
    hand_over_live,
    list_session_transfers,
    make_warm_transfer,
    reroute_warm_transfer,
    suggest_for_session,
)

router = APIRouter(prefix="/api/listener", tags=["listener"], responses=error_responses(*SIGNED_IN, 409))

IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=100,
        description="Any unique string per warm transfer: the same key and body again "
        "replays the first answer; the same key with another body is 422",
    ),
]


@router.get("/sessions/current", response_model=CallCardOut | None)
async def show_current_session(session: SessionDep, listener: CurrentListener):
    """The listener's running session with server times, so a reloaded page draws the same
    countdown, and the caller's number masked; ``null`` when no call runs (a normal state)."""
    support = await find_current_session(session, listener_id=listener.id)
    return None if support is None else await describe_call_card(session, support=support)


@router.get("/sessions/{session_id}/repeat-caller", response_model=RepeatCallerOut)
async def show_repeat_caller(support: OwnSession, session: SessionDep, listener: CurrentListener):
    """Earlier contacts from the same number, so the caller need not tell their story again
    (a match is audited as a read of the caller's personal data)."""
    return await describe_repeat_caller(session, support=support, user=listener)


@router.get("/tonight", response_model=list[TonightCallOut])
async def show_calls_tonight(session: SessionDep, listener: CurrentListener):
    """The listener's own sessions in the last twelve hours, newest first."""
    return await list_calls_tonight(session, user=listener)


@router.post("/callbacks/{callback_id}/session", status_code=201, response_model=SessionOut)
async def begin_callback_session(callback_id: PathId, session: SessionDep, listener: CurrentListener, clock: ClockDep):
    """Start the timed session for a callback the listener has claimed and is ringing."""
    support = await start_callback_session(session, callback_id=callback_id, user=listener)
    return describe_session(support, clock.now())


@router.post("/sessions/{session_id}/end", response_model=SessionOut)
async def finish_callback_session(support: OwnSession, session: SessionDep, clock: ClockDep):
    """End a callback's session (a call through the line ends when the call does)."""
    return describe_session(await end_callback_session(session, support=support), clock.now())


@router.post("/sessions/{session_id}/log", status_code=201, response_model=CallLogOut)
async def submit_call_log(support: OwnSession, entry: CallLogIn, session: SessionDep, listener: CurrentListener):
    return await record_call_log(session, support=support, entry=entry, user=listener)


@router.post("/sessions/{session_id}/log/revisions", status_code=201, response_model=CallLogOut)
async def submit_correction(support: OwnSession, entry: CorrectionIn, session: SessionDep, listener: CurrentListener):
    return await correct_call_log(session, support=support, entry=entry, user=listener)


@router.put("/sessions/{session_id}/survey", response_model=SurveyConsentOut)
async def record_survey_consent(
    support: OwnSession, entry: SurveyConsentIn, session: SessionDep, listener: CurrentListener
):
    """Whether the caller agreed to the short survey after the call, and by which way."""
    return await record_survey_answer(session, support=support, entry=entry, user=listener)


@router.get("/sessions/{session_id}/log", response_model=CallLogOut)
async def show_call_log(support: OwnSession, session: SessionDep, listener: CurrentListener):
    return await read_call_log(session, support=support, user=listener)


@router.get("/sessions/{session_id}/suggestions", response_model=list[SuggestionOut])
async def show_suggestions(
    support: OwnSession,
    session: SessionDep,
    age: Annotated[int | None, Query(ge=0, le=120)] = None,
    locality: Annotated[str | None, Query(max_length=40)] = None,
    urgent: bool = False,
    needs: Annotated[list[str] | None, Query()] = None,
):
    """Services ranked for this caller now, with the reasons; the caller's locality team is always last.
    Needs default to those in the call log."""
    suggestions = await suggest_for_session(
        session, support=support, age=age, locality=locality, urgent=urgent, needs=needs
    )
    return [describe_suggestion(s) for s in suggestions]


@router.post(
    "/sessions/{session_id}/transfers",
    status_code=201,
    response_model=HelplineTicketOut,
    responses={
        200: {
            "model": HelplineTicketOut,
            "description": "The same Idempotency-Key and body again: the ticket already made",
        }
    },
)
async def create_warm_transfer(
    support: OwnSession,
    entry: TransferIn,
    response: Response,
    session: SessionDep,
    listener: CurrentListener,
    idempotency_key: IdempotencyKey = None,
):
    """Hand the caller to a partner's queue. Needs the call log with the caller's consent to share."""
    ticket, created = await make_warm_transfer(
        session, support=support, entry=entry, user=listener, idempotency_key=idempotency_key
    )
    if not created:
        response.status_code = 200
    return ticket


@router.get("/sessions/{session_id}/transfers", response_model=list[HelplineTicketOut])
async def show_session_transfers(support: OwnSession, session: SessionDep, listener: CurrentListener):
    """The warm transfers made for this session's call, with their status and trail."""
    return await list_session_transfers(session, support=support, reader=listener)


helpline_router = APIRouter(
    prefix="/api/helpline", tags=["warm transfers (helpline)"], responses=error_responses(*SIGNED_IN, 409)
)


@helpline_router.get("/tickets/{ticket_id}", response_model=HelplineTicketOut)
async def show_ticket(ticket: OwnTicket, session: SessionDep, listener: CurrentListener):
    return await describe_for_helpline(session, ticket=ticket, reader=listener)


@helpline_router.post("/tickets/{ticket_id}/cancel", response_model=HelplineTicketOut)
async def cancel_ticket(ticket: OwnTicket, entry: CancelIn, session: SessionDep, listener: CurrentListener):
    """Withdraw a warm transfer before the handover (e.g. the caller withdrew consent)."""
    return await cancel_warm_transfer(session, ticket=ticket, reason=entry.reason, user=listener)


@helpline_router.post("/tickets/{ticket_id}/amendments", status_code=201, response_model=HelplineTicketOut)
async def amend_transfer(ticket: OwnTicket, entry: AmendIn, session: SessionDep, listener: CurrentListener):
    """Add to a warm transfer already sent (the listener who made it, or a supervisor): a new
    detail, or a changed time or way to reach the caller. Each amendment is a numbered version;
    the partner is told and sees what changed. A closed ticket is 409."""
    return await amend_warm_transfer(session, ticket=ticket, entry=entry, user=listener)


@helpline_router.post("/tickets/{ticket_id}/handover", response_model=HelplineTicketOut)
async def hand_over_live_transfer(ticket: OwnTicket, session: SessionDep):
    """Live transfer: the partner has joined and been briefed; take the caller off hold and leave
    the call. The handover is confirmed when the listener's leg has left."""
    return await hand_over_live(session, ticket=ticket)


@helpline_router.post("/tickets/{ticket_id}/reroute", status_code=201, response_model=HelplineTicketOut)
async def reroute_transfer(ticket: OwnTicket, entry: RerouteIn, session: SessionDep, listener: CurrentListener):
    """Withdraw a ticket nobody has accepted (e.g. after its accept-by breach) and hand the caller to
    another service; returns the new, linked ticket. The first partner is told it was withdrawn."""
    return await reroute_warm_transfer(session, ticket=ticket, entry=entry, user=listener)
