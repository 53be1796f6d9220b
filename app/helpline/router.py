"""Listener API for support sessions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.core.deps import ClockDep, CurrentListener, SessionDep
from app.helpline.call_log import (
    CallLogIn, CorrectionIn, correct_call_log, describe_call_log, record_call_log,
)
from app.helpline.history import (
    describe_call_card, describe_repeat_caller, end_callback_session, list_calls_tonight, start_callback_session,
)
from app.helpline.sessions import describe_session, find_current_session, own_session

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
