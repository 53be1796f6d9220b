"""A listener asking for help: every supervisor is alerted at once, and one click on the alert
joins the call as a coach (heard by the listener only)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import runtime_of, session_scope
from app.core.errors import Conflict
from app.core.events import publish_live
from app.core.runtime import Runtime
from app.core.security import User
from app.shiftlead.alerts import acknowledge_alert
from app.shiftlead.models import AlertAcknowledgement, HelpRequest
from telephony.models import Call
from telephony.monitoring import join_call, list_others_on_line

HELP_EVENT = "help.asked"


async def current_call_of(session: AsyncSession, user: User) -> Call:
    call = await session.scalar(sa.select(Call).where(Call.listener_id == user.id, Call.queue_state == "connected"))
    if call is None:
        raise Conflict("you have no caller on the line", error="no_current_call")
    return call


async def live_call(session: AsyncSession, call_id: int) -> Call:
    call = await session.get(Call, call_id)
    if call is None or call.queue_state != "connected":
        raise Conflict("that call has ended", error="call_gone")
    return call


async def ask_for_help(session: AsyncSession, *, user: User) -> dict[str, Any]:
    """Once per call until a supervisor answers it: pressing again does not alert twice."""
    call = await current_call_of(session, user)
    pending = await session.scalar(
        sa.select(HelpRequest)
        .outerjoin(
            AlertAcknowledgement,
            AlertAcknowledgement.alert_key == sa.literal("help:") + sa.cast(HelpRequest.id, sa.String),
        )
        .where(HelpRequest.call_id == call.id, AlertAcknowledgement.id.is_(None))
    )
    if pending is None:
        pending = HelpRequest(call_id=call.id, listener_id=user.id, raised_at=runtime_of(session).clock.now())
        session.add(pending)
        await session.flush()
        await record_audit(
            session,
            actor=f"user:{user.username}",
            action="ask_for_help",
            subject_type="call",
            subject_id=call.id,
            help_request_id=pending.id,
        )
        await publish_live(
            session,
            "role:supervisor",
            HELP_EVENT,
            {"help_request_id": pending.id, "call_id": call.id, "listener": user.display_name},
        )
    return {"id": pending.id, "call_id": call.id, "raised_at": pending.raised_at.isoformat()}


async def join_from_board(
    runtime: Runtime, *, call_id: int, supervisor: User, mode: str, alert_key: str | None
) -> dict[str, Any]:
    """Join a call; joining from an alert (a call for help) also acknowledges it by name."""
    leg = await join_call(runtime, call_id=call_id, supervisor=supervisor, mode=mode)
    if alert_key:
        async with session_scope(runtime) as session:
            try:
                await acknowledge_alert(session, key=alert_key, user=supervisor)
            except Exception:  # noqa: BLE001 - the join stands even if the alert has just cleared
                pass
    return leg


async def list_others_on_my_line(session: AsyncSession, *, user: User) -> list[dict[str, Any]]:
    """Who else is on the listener's call; nobody when they have no caller (the page asks after
    a call has ended too)."""
    call = await session.scalar(sa.select(Call).where(Call.listener_id == user.id, Call.queue_state == "connected"))
    return await list_others_on_line(session, call=call) if call is not None else []
