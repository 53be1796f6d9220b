"""The board's people: every listener by name with their call, every waiting caller and
callback, every open warm transfer with its targets. Numbers are masked, never decrypted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import User
from app.helpline.models import CallLog, CallLogRevision, SupportSession
from app.shiftlead.models import HelpRequest, SafeguardingRecord
from telephony.models import Call, CallbackRequest, ListenerPresence
from telephony.monitoring_models import SupervisorLeg
from transfers.directory.models import Service
from transfers.tickets.models import TransferTicket

OPEN_TICKET_STATES = ("requested", "accepted", "on-hold")
ACTIVE_LEG = ("dialling", "joined")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _seconds(since: datetime | None, now: datetime) -> int | None:
    return max(0, int((now - since).total_seconds())) if since else None


async def _live_sessions(session: AsyncSession) -> dict[int, SupportSession]:
    rows = (await session.scalars(sa.select(SupportSession).where(SupportSession.ended_at.is_(None)))).all()
    return {s.listener_id: s for s in rows}


async def _risk_by_session(session: AsyncSession, session_ids: list[int]) -> dict[int, str | None]:
    if not session_ids:
        return {}
    rows = (
        await session.execute(
            sa.select(CallLog.session_id, CallLogRevision.risk_level)
            .join(
                CallLogRevision,
                sa.and_(
                    CallLogRevision.call_log_id == CallLog.id, CallLogRevision.revision == CallLog.current_revision
                ),
            )
            .where(CallLog.session_id.in_(session_ids))
        )
    ).all()
    return dict(rows)


async def _call_extras(session: AsyncSession, call_ids: list[int]) -> dict[str, dict[int, Any]]:
    """For the calls now on the board: an open immediate-risk flag, help asked, a supervisor on."""
    if not call_ids:
        return {"flag": {}, "help": {}, "leg": {}}
    flags = dict(
        (
            await session.execute(
                sa.select(SafeguardingRecord.call_id, SafeguardingRecord.id).where(
                    SafeguardingRecord.call_id.in_(call_ids), SafeguardingRecord.closed_at.is_(None)
                )
            )
        ).all()
    )
    helps = dict(
        (
            await session.execute(
                sa.select(HelpRequest.call_id, sa.func.max(HelpRequest.raised_at))
                .where(HelpRequest.call_id.in_(call_ids))
                .group_by(HelpRequest.call_id)
            )
        ).all()
    )
    legs = {
        leg.call_id: {"supervisor": name, "mode": leg.mode, "state": leg.state, "supervisor_id": leg.supervisor_id}
        for leg, name in (
            await session.execute(
                sa.select(SupervisorLeg, User.display_name)
                .join(User, User.id == SupervisorLeg.supervisor_id)
                .where(SupervisorLeg.call_id.in_(call_ids), SupervisorLeg.state.in_(ACTIVE_LEG))
            )
        ).all()
    }
    return {"flag": flags, "help": helps, "leg": legs}


async def list_listeners(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    """Every active listener, on a call first, then by name."""
    rows = (
        await session.execute(
            sa.select(User, ListenerPresence)
            .outerjoin(ListenerPresence, ListenerPresence.user_id == User.id)
            .where(User.role == "listener", User.is_active.is_(True))
            .order_by(User.display_name)
        )
    ).all()
    sessions = await _live_sessions(session)
    risks = await _risk_by_session(session, [s.id for s in sessions.values()])
    calls = {
        c.id: c
        for c in (
            await session.scalars(
                sa.select(Call).where(Call.id.in_([p.current_call_id for _, p in rows if p and p.current_call_id]))
            )
        ).all()
    }
    extras = await _call_extras(session, list(calls))
    last = await _last_calls(session, [user.id for user, _ in rows])
    people = [
        _listener_row(user, presence, calls, sessions.get(user.id), risks, extras, now)
        | {"last_call": last.get(user.id)}
        for user, presence in rows
    ]
    return sorted(people, key=lambda p: (p["call"] is None, p["name"].lower()))


async def _last_calls(session: AsyncSession, listener_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each listener's latest ended call: who ended it and when ("Caller hung up 21:14")."""
    if not listener_ids:
        return {}
    # One index seek per listener on calls(listener_id, ended_at, id), newest first: a max()
    # grouped by listener would read every call each listener ever took.
    latest_id = (
        sa.select(Call.id)
        .where(Call.listener_id == User.id, Call.ended_at.is_not(None), Call.answered_at.is_not(None))
        .order_by(Call.ended_at.desc(), Call.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    latest = sa.select(latest_id).where(User.id.in_(listener_ids))
    rows = await session.execute(
        sa.select(Call.listener_id, Call.id, Call.ended_at, Call.ended_by).where(Call.id.in_(latest))
    )
    return {
        listener_id: {"id": call_id, "ended_at": ended_at.isoformat(), "ended_by": ended_by}
        for listener_id, call_id, ended_at, ended_by in rows
    }


def _listener_row(
    user: User,
    presence: ListenerPresence | None,
    calls: dict[int, Call],
    support: SupportSession | None,
    risks: dict[int, str | None],
    extras: dict[str, dict[int, Any]],
    now: datetime,
) -> dict[str, Any]:
    call = calls.get(presence.current_call_id) if presence and presence.current_call_id else None
    row: dict[str, Any] = {
        "id": user.id,
        "name": user.display_name,
        "presence": presence.status if presence else "offline",
        "presence_since": _iso(presence.since) if presence else None,
        "presence_seconds": _seconds(presence.since, now) if presence else None,
        "call": None,
        "session": None,
    }
    if call is not None:
        row["call"] = {
            "id": call.id,
            "caller": call.from_masked,
            "wait_seconds": call.wait_seconds,
            "state": call.queue_state,
            "immediate_risk_id": extras["flag"].get(call.id),
            "help_asked_at": _iso(extras["help"].get(call.id)),
            "supervisor": extras["leg"].get(call.id),
        }
    if support is not None:
        row["session"] = {
            "id": support.id,
            "started_at": support.started_at.isoformat(),
            "due_at": support.due_at.isoformat(),
            "elapsed_seconds": _seconds(support.started_at, now),
            "overrun_seconds": max(0, int((now - support.due_at).total_seconds())),
            "risk_level": risks.get(support.id),
            "log_recorded": support.id in risks,
        }
    return row


async def list_waiting(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    calls = (
        await session.scalars(sa.select(Call).where(Call.queue_state == "waiting").order_by(Call.waiting_since))
    ).all()
    callbacks = (
        await session.execute(
            sa.select(CallbackRequest, Call.from_masked)
            .join(Call, Call.id == CallbackRequest.call_id)
            .where(CallbackRequest.status == "open")
            .order_by(CallbackRequest.urgent.desc(), CallbackRequest.created_at)
        )
    ).all()
    waiting = [
        {
            "kind": "caller",
            "id": c.id,
            "caller": c.from_masked,
            "since": _iso(c.waiting_since),
            "wait_seconds": _seconds(c.waiting_since, now),
            "urgent": False,
        }
        for c in calls
    ]
    waiting += [
        {
            "kind": "callback",
            "id": cb.id,
            "caller": masked,
            "since": cb.created_at.isoformat(),
            "wait_seconds": _seconds(cb.created_at, now),
            "urgent": cb.urgent,
            "reason": cb.reason,
        }
        for cb, masked in callbacks
    ]
    return waiting


async def list_open_transfers(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            sa.select(TransferTicket, Service.name)
            .join(Service, Service.id == TransferTicket.service_id)
            .where(TransferTicket.status.in_(OPEN_TICKET_STATES))
            .order_by(TransferTicket.urgent.desc(), TransferTicket.accept_by)
        )
    ).all()
    return [
        {
            "id": t.id,
            "service": name,
            "status": t.status,
            "urgent": t.urgent,
            "accept_by": t.accept_by.isoformat(),
            "contact_by": t.contact_by.isoformat(),
            "accept_in_seconds": int((t.accept_by - now).total_seconds()) if t.status == "requested" else None,
            "contact_in_seconds": int((t.contact_by - now).total_seconds()),
            "breached": bool(t.accept_breached_at or t.contact_breached_at),
        }
        for t, name in rows
    ]
