"""Listener API for support sessions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.core.deps import ClockDep, CurrentListener, SessionDep
from app.helpline.call_log import (
    CallLogIn, CorrectionIn, correct_call_log, describe_call_log, record_call_log,
)
from app.helpline.sessions import describe_session, find_current_session

router = APIRouter(prefix="/api/listener", tags=["listener"])


@router.get("/sessions/current")
async def show_current_session(session: SessionDep, listener: CurrentListener, clock: ClockDep) -> dict[str, Any]:
    """The listener's running session with server times, so a reloaded page draws the same countdown."""
    return describe_session(await find_current_session(session, listener_id=listener.id), clock.now())


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
