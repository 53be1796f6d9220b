"""Listener API for support sessions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from app.core.deps import ClockDep, CurrentListener, SessionDep
from app.helpline.call_log import (
    CallLogIn, CorrectionIn, correct_call_log, describe_call_log, record_call_log,
)
from app.helpline.history import (
    describe_call_card, describe_repeat_caller, end_callback_session, list_calls_tonight, start_callback_session,
)
from app.helpline.sessions import describe_session, find_current_session, own_session
from app.helpline.transfers import (
    CancelIn, RerouteIn, TransferIn, cancel_warm_transfer, describe_for_helpline, describe_suggestion, hand_over_live,
    list_session_transfers, make_warm_transfer, own_ticket, reroute_warm_transfer, suggest_for_session,
)

router = APIRouter(prefix="/api/listener", tags=["listener"])


@router.get("/sessions/current")
async def show_current_session(session: SessionDep, listener: CurrentListener) -> dict[str, Any]:
    """The listener's running session (404 ``no_session`` if none) with server times, so a reloaded
    page draws the same countdown, and the caller's number masked."""
    return await describe_call_card(session, support=await find_current_session(session, listener_id=listener.id))


@router.get("/sessions/{session_id}/repeat-caller")
async def show_repeat_caller(session_id: int, session: SessionDep, listener: CurrentListener) -> dict[str, Any]:
    """Earlier contacts from the same number, so the caller need not tell their story again."""
    return await describe_repeat_caller(session, support=await own_session(session, session_id, listener))


@router.get("/tonight")
async def show_calls_tonight(session: SessionDep, listener: CurrentListener) -> list[dict[str, Any]]:
    """The listener's own sessions in the last twelve hours, newest first."""
    return await list_calls_tonight(session, user=listener)


@router.post("/callbacks/{callback_id}/session", status_code=201)
async def begin_callback_session(callback_id: int, session: SessionDep, listener: CurrentListener,
                                 clock: ClockDep) -> dict[str, Any]:
    """Start the timed session for a callback the listener has claimed and is ringing."""
    support = await start_callback_session(session, callback_id=callback_id, user=listener)
    return describe_session(support, clock.now())


@router.post("/sessions/{session_id}/end")
async def finish_callback_session(session_id: int, session: SessionDep, listener: CurrentListener,
                                  clock: ClockDep) -> dict[str, Any]:
    """End a callback's session (a call through the line ends when the call does)."""
    support = await end_callback_session(session, support=await own_session(session, session_id, listener))
    return describe_session(support, clock.now())


@router.post("/sessions/{session_id}/log", status_code=201)
async def submit_call_log(session_id: int, entry: CallLogIn, session: SessionDep, listener: CurrentListener) -> dict[str, Any]:
    return await record_call_log(session, session_id=session_id, entry=entry, user=listener)


@router.post("/sessions/{session_id}/log/revisions", status_code=201)
async def submit_correction(session_id: int, entry: CorrectionIn, session: SessionDep,
                            listener: CurrentListener) -> dict[str, Any]:
    return await correct_call_log(session, session_id=session_id, entry=entry, user=listener)


@router.get("/sessions/{session_id}/log")
async def show_call_log(session_id: int, session: SessionDep, listener: CurrentListener) -> dict[str, Any]:
    return await describe_call_log(session, session_id=session_id, user=listener)


@router.get("/sessions/{session_id}/suggestions")
async def show_suggestions(session_id: int, session: SessionDep, listener: CurrentListener,
                           age: Annotated[int | None, Query(ge=0, le=120)] = None,
                           locality: Annotated[str | None, Query(max_length=40)] = None, urgent: bool = False,
                           needs: Annotated[list[str] | None, Query()] = None) -> list[dict[str, Any]]:
    """Services ranked for this caller now, with the reasons; the caller's locality team is always last.
    Needs default to those in the call log."""
    support = await own_session(session, session_id, listener)
    suggestions = await suggest_for_session(session, support=support, age=age, locality=locality, urgent=urgent,
                                            needs=needs)
    return [describe_suggestion(s) for s in suggestions]


@router.post("/sessions/{session_id}/transfers", status_code=201,
             responses={200: {"description": "The same Idempotency-Key again: the ticket already made"}})
async def create_warm_transfer(session_id: int, entry: TransferIn, response: Response, session: SessionDep,
                               listener: CurrentListener,
                               idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> dict[str, Any]:
    """Hand the caller to a partner's queue. Needs the call log with the caller's consent to share."""
    support = await own_session(session, session_id, listener)
    ticket, created = await make_warm_transfer(session, support=support, entry=entry, user=listener,
                                               idempotency_key=idempotency_key)
    if not created:
        response.status_code = 200
    return ticket


@router.get("/sessions/{session_id}/transfers")
async def show_session_transfers(session_id: int, session: SessionDep, listener: CurrentListener) -> list[dict[str, Any]]:
    """The warm transfers made for this session's call, with their status and trail."""
    return await list_session_transfers(session, support=await own_session(session, session_id, listener))


helpline_router = APIRouter(prefix="/api/helpline", tags=["warm transfers (helpline)"])


@helpline_router.get("/tickets/{ticket_id}")
async def show_ticket(ticket_id: int, session: SessionDep, listener: CurrentListener) -> dict[str, Any]:
    return await describe_for_helpline(session, ticket=await own_ticket(session, ticket_id, listener))


@helpline_router.post("/tickets/{ticket_id}/cancel")
async def cancel_ticket(ticket_id: int, entry: CancelIn, session: SessionDep, listener: CurrentListener) -> dict[str, Any]:
    """Withdraw a warm transfer before the handover (e.g. the caller withdrew consent)."""
    ticket = await own_ticket(session, ticket_id, listener)
    return await cancel_warm_transfer(session, ticket=ticket, reason=entry.reason, user=listener)


@helpline_router.post("/tickets/{ticket_id}/handover")
async def hand_over_live_transfer(ticket_id: int, session: SessionDep, listener: CurrentListener) -> dict[str, Any]:
    """Live transfer: the partner has joined and been briefed; take the caller off hold and leave
    the call. The handover is confirmed when the listener's leg has left."""
    return await hand_over_live(session, ticket=await own_ticket(session, ticket_id, listener))


@helpline_router.post("/tickets/{ticket_id}/reroute", status_code=201)
async def reroute_transfer(ticket_id: int, entry: RerouteIn, session: SessionDep, listener: CurrentListener) -> dict[str, Any]:
    """Withdraw a ticket nobody has accepted (e.g. after its accept-by breach) and hand the caller to
    another service; returns the new, linked ticket. The first partner is told it was withdrawn."""
    ticket = await own_ticket(session, ticket_id, listener)
    return await reroute_warm_transfer(session, ticket=ticket, entry=entry, user=listener)
