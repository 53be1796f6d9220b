"""Listener API for support sessions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.core.deps import ClockDep, CurrentListener, SessionDep
from app.helpline.sessions import describe_session, find_current_session

router = APIRouter(prefix="/api/listener", tags=["listener"])


@router.get("/sessions/current")
async def show_current_session(session: SessionDep, listener: CurrentListener, clock: ClockDep) -> dict[str, Any]:
    """The listener's running session with server times, so a reloaded page draws the same countdown."""
    return describe_session(await find_current_session(session, listener_id=listener.id), clock.now())
