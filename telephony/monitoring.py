"""Supervisors on the line: listen (muted), coach (heard by the listener only) or barge (heard
by both), switch between them and leave.

The supervisor is a participant of the caller's conference labelled ``supervisor-<user id>``,
dialled to their browser headset (``client:supervisor_<id>``) or their desk phone. Twilio's
participant ``coaching`` with ``callSidToCoach`` set to the listener's leg is what keeps a coach
from ever being heard by the caller. One supervisor is on a call at a time (a unique index).

No transaction is open while Twilio is asked: the leg is stored and committed first, then
dialled, then its call SID recorded. If the listener's line drops while a supervisor listens or
coaches, the supervisor is switched to barge at once, so the caller is neither left alone nor
talking to someone who cannot be heard.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import runtime_of, session_scope
from app.core.errors import Conflict, ServiceUnavailable
from app.core.events import DomainEvent, publish_live
from app.core.runtime import Runtime
from app.core.security import User
from telephony.conference import SUPERVISOR_LABEL_PREFIX
from telephony.events import LEG_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT
from telephony.models import Call, CallParticipant
from telephony.monitoring_models import SupervisorLeg
from telephony.participants import conference_sid_of
from telephony.provider import ProviderError, ProviderRejected, add_participant, remove_participant, update_participant
from telephony.urls import webhook_url

log = logging.getLogger("openline.telephony")

MONITOR_EVENT = "monitor"
ACTIVE = ("dialling", "joined")
SUPERVISOR_RING_SECONDS = 25


def supervisor_label(user_id: int) -> str:
    return f"{SUPERVISOR_LABEL_PREFIX}{user_id}"


def supervisor_identity(user: User) -> str:
    # The identity the supervisor's voice token registers (User.headset_identity).
    return f"supervisor_{user.id}"


def monitor_options(mode: str, listener_call_sid: str) -> dict[str, Any]:
    """Pure: Twilio's participant fields for each way of being on the line."""
    if mode == "listen":
        return {"muted": True, "coaching": False}
    if mode == "coach":
        return {"muted": False, "coaching": True, "call_sid_to_coach": listener_call_sid}
    return {"muted": False, "coaching": False}


def headset_via(runtime: Runtime, user: User) -> tuple[str, str]:
    """Where the supervisor is rung, and how the board should describe it."""
    if user.dial_address:
        return user.dial_address, "desk"
    kind = "practice" if runtime.settings.telephony == "simulated" else "browser"
    return f"client:{supervisor_identity(user)}", kind


async def _live_call(session: AsyncSession, call_id: int) -> Call:
    call = await session.get(Call, call_id, populate_existing=True)
    if call is None or call.queue_state != "connected" or call.ended_at is not None or not call.listener_call_sid:
        raise Conflict("that call has ended or has no listener on it now", error="call_gone")
    return call


async def _open_leg(
    runtime: Runtime, *, call_id: int, supervisor: User, mode: str, via: str
) -> tuple[SupervisorLeg, Call]:
    try:
        async with session_scope(runtime) as session:
            call = await _live_call(session, call_id)
            other = await session.scalar(
                sa.select(User.display_name)
                .join(SupervisorLeg, SupervisorLeg.supervisor_id == User.id)
                .where(SupervisorLeg.call_id == call_id, SupervisorLeg.state.in_(ACTIVE))
            )
            if other is not None:
                raise Conflict(f"{other} is already on this call", error="supervisor_already_on")
            leg = SupervisorLeg(
                call_id=call_id,
                supervisor_id=supervisor.id,
                mode=mode,
                state="dialling",
                via=via,
                requested_at=runtime.clock.now(),
            )
            session.add(leg)
            await session.flush()
            await record_audit(
                session,
                actor=f"user:{supervisor.username}",
                action="join_call",
                subject_type="call",
                subject_id=call_id,
                mode=mode,
                via=via,
                leg_id=leg.id,
            )
            await _announce(session, call, leg)
    except IntegrityError as exc:  # two supervisors in the same instant: the index lets one through
        raise Conflict("another supervisor is already on this call", error="supervisor_already_on") from exc
    return leg, call


async def join_call(runtime: Runtime, *, call_id: int, supervisor: User, mode: str) -> dict[str, Any]:
    to, via = headset_via(runtime, supervisor)
    leg, call = await _open_leg(runtime, call_id=call_id, supervisor=supervisor, mode=mode, via=via)
    label = supervisor_label(supervisor.id)
    try:
        # By SID, not name: a conference that ended meanwhile is refused, never opened anew, empty.
        added = await add_participant(
            runtime,
            await conference_sid_of(runtime, call),
            to=to,
            label=label,
            status_callback=webhook_url(runtime.settings, "status", leg="supervisor", call=call.id, label=label),
            start_conference_on_enter=False,
            end_conference_on_exit=False,
            ring_seconds=SUPERVISOR_RING_SECONDS,
            **monitor_options(mode, call.listener_call_sid or ""),
        )
    except ProviderError as exc:
        await _close_leg(runtime, leg.id, state="failed", reason="could not dial")
        if isinstance(exc, ProviderRejected) and exc.call_gone:
            raise Conflict("that call has just ended", error="call_gone") from exc
        raise ServiceUnavailable("Twilio could not dial you into the call; try again", error="provider_down") from exc
    async with session_scope(runtime) as session:
        await session.execute(
            sa.update(SupervisorLeg)
            .where(SupervisorLeg.id == leg.id, SupervisorLeg.call_sid.is_(None))
            .values(call_sid=added.call_sid)
        )
    return describe_leg(leg) | {"call_sid": added.call_sid}


def describe_leg(leg: SupervisorLeg) -> dict[str, Any]:
    return {"id": leg.id, "call_id": leg.call_id, "mode": leg.mode, "state": leg.state, "via": leg.via}


async def _my_leg(session: AsyncSession, call_id: int, supervisor: User) -> SupervisorLeg:
    leg = await session.scalar(
        sa.select(SupervisorLeg).where(
            SupervisorLeg.call_id == call_id,
            SupervisorLeg.supervisor_id == supervisor.id,
            SupervisorLeg.state.in_(ACTIVE),
        )
    )
    if leg is None:
        raise Conflict("you are not on that call", error="not_on_call")
    return leg


async def switch_mode(runtime: Runtime, *, call_id: int, supervisor: User, mode: str) -> dict[str, Any]:
    async with session_scope(runtime) as session:
        leg = await _my_leg(session, call_id, supervisor)
        call = await _live_call(session, call_id)
        if leg.state != "joined":
            raise Conflict("your line is still ringing: answer it first", error="not_joined")
    try:
        await update_participant(
            runtime,
            await conference_sid_of(runtime, call),
            supervisor_label(supervisor.id),
            **monitor_options(mode, call.listener_call_sid or ""),
        )
    except ProviderError as exc:
        raise ServiceUnavailable(
            "Twilio did not make that change; you are still on as before", error="provider_down"
        ) from exc
    async with session_scope(runtime) as session:
        leg = await session.get(SupervisorLeg, leg.id)
        was, leg.mode = leg.mode, mode
        await record_audit(
            session,
            actor=f"user:{supervisor.username}",
            action="switch_monitoring",
            subject_type="call",
            subject_id=call_id,
            mode=mode,
            was=was,
            leg_id=leg.id,
        )
        await _announce(session, call, leg)
        return describe_leg(leg)


async def leave_call(runtime: Runtime, *, call_id: int, supervisor: User) -> dict[str, Any]:
    async with session_scope(runtime) as session:
        leg = await _my_leg(session, call_id, supervisor)
        call = await session.get(Call, call_id)
    try:
        await remove_participant(runtime, await conference_sid_of(runtime, call), supervisor_label(supervisor.id))
    except ProviderRejected as exc:
        if not exc.call_gone:
            raise ServiceUnavailable("Twilio refused to take you off the call", error="provider_refused") from exc
    except ProviderError as exc:
        raise ServiceUnavailable(
            "Twilio could not be reached; you are still on the call", error="provider_down"
        ) from exc
    await _close_leg(runtime, leg.id, state="left", reason="left", actor=f"user:{supervisor.username}")
    return describe_leg(leg) | {"state": "left"}


async def _close_leg(runtime: Runtime, leg_id: int, *, state: str, reason: str, actor: str | None = None) -> None:
    async with session_scope(runtime) as session:
        leg = await session.get(SupervisorLeg, leg_id)
        if leg is None or leg.state not in ACTIVE:
            return
        leg.state, leg.left_at, leg.left_reason = state, runtime.clock.now(), reason[:40]
        await record_audit(
            session,
            actor=actor or "telephony",
            action="leave_call",
            subject_type="call",
            subject_id=leg.call_id,
            leg_id=leg.id,
            state=state,
            reason=reason,
        )
        call = await session.get(Call, leg.call_id)
        if call is not None:
            await _announce(session, call, leg)


async def _announce(session: AsyncSession, call: Call, leg: SupervisorLeg) -> None:
    """Supervisors' boards redraw; the listener is told, if the line tells listeners (barging
    is always told: the caller hears it too)."""
    data = {"call_id": call.id, **describe_leg(leg)}
    await publish_live(session, "role:supervisor", MONITOR_EVENT, data)
    if call.listener_id is not None:
        await publish_live(session, f"user:{call.listener_id}", MONITOR_EVENT, data)


async def list_others_on_line(session: AsyncSession, *, call: Call) -> list[dict[str, Any]]:
    """Who else is on the listener's call, as far as the listener is told."""
    tell = runtime_of(session).settings.tell_listener_when_monitored
    rows = (
        await session.execute(
            sa.select(SupervisorLeg, User.display_name)
            .join(User, User.id == SupervisorLeg.supervisor_id)
            .where(SupervisorLeg.call_id == call.id, SupervisorLeg.state == "joined")
        )
    ).all()
    return [{"name": name, "role": "supervisor", "mode": leg.mode} for leg, name in rows if tell or leg.mode == "barge"]


# Conference events about supervisor legs


def _supervisor_of(label: str | None) -> int | None:
    suffix = (label or "").removeprefix(SUPERVISOR_LABEL_PREFIX)
    return int(suffix) if (label or "").startswith(SUPERVISOR_LABEL_PREFIX) and suffix.isdigit() else None


async def supervisor_joined(runtime: Runtime, event: DomainEvent) -> None:
    if _supervisor_of(event.payload.get("label")) is None:
        return
    async with session_scope(runtime) as session:
        leg = await session.scalar(
            sa.select(SupervisorLeg).where(
                SupervisorLeg.call_id == event.payload["call_id"],
                SupervisorLeg.state == "dialling",
                SupervisorLeg.supervisor_id == _supervisor_of(event.payload.get("label")),
            )
        )
        if leg is None:
            return
        leg.state, leg.joined_at = "joined", runtime.clock.now()
        leg.call_sid = leg.call_sid or event.payload.get("call_sid")
        await _announce(session, await session.get(Call, leg.call_id), leg)


async def someone_left(runtime: Runtime, event: DomainEvent) -> None:
    supervisor_id = _supervisor_of(event.payload.get("label"))
    if supervisor_id is not None:
        await _supervisor_leg_over(runtime, event.payload["call_id"], supervisor_id, event.payload.get("call_sid"))
    elif event.payload.get("role") == "listener":
        await take_over_from_listener(runtime, event.payload["call_id"])


async def _supervisor_leg_over(runtime: Runtime, call_id: int, supervisor_id: int, call_sid: str | None) -> None:
    async with session_scope(runtime) as session:
        leg = await session.scalar(
            sa.select(SupervisorLeg).where(
                SupervisorLeg.call_id == call_id,
                SupervisorLeg.supervisor_id == supervisor_id,
                SupervisorLeg.state.in_(ACTIVE),
            )
        )
        reason = (
            await session.scalar(
                sa.select(CallParticipant.left_reason).where(
                    CallParticipant.call_id == call_id, CallParticipant.call_sid == call_sid
                )
            )
            if call_sid
            else None
        )
    if leg is not None:
        await _close_leg(runtime, leg.id, state="left", reason=reason or "line dropped")


async def take_over_from_listener(runtime: Runtime, call_id: int) -> None:
    """The listener's line is gone while a supervisor listens or coaches: the supervisor speaks
    to the caller now (barge). If even that fails, the supervisor is taken off so the
    caller-left-alone rescue runs rather than leaving the caller with someone who cannot be heard."""
    async with session_scope(runtime) as session:
        leg = await session.scalar(
            sa.select(SupervisorLeg).where(
                SupervisorLeg.call_id == call_id, SupervisorLeg.state == "joined", SupervisorLeg.mode != "barge"
            )
        )
        call = await session.get(Call, call_id)
    if leg is None or call is None or call.ended_at is not None:
        return
    label = supervisor_label(leg.supervisor_id)
    try:
        conference_sid = await conference_sid_of(runtime, call)
        await update_participant(runtime, conference_sid, label, **monitor_options("barge", ""))
    except ProviderError as exc:
        log.warning(
            "supervisor could not take over; removing them so the rescue runs",
            extra={"call_id": call_id, "error": str(exc)},
        )
        try:
            await remove_participant(runtime, await conference_sid_of(runtime, call), label)
        except ProviderError:
            log.warning("supervisor leg not removed", extra={"call_id": call_id})
        return
    async with session_scope(runtime) as session:
        leg = await session.get(SupervisorLeg, leg.id)
        leg.mode = "barge"
        await record_audit(
            session,
            actor="telephony",
            action="supervisor_took_over",
            subject_type="call",
            subject_id=call_id,
            leg_id=leg.id,
            reason="listener line dropped",
        )
        await publish_live(
            session,
            f"user:{leg.supervisor_id}",
            MONITOR_EVENT,
            {
                "call_id": call_id,
                **describe_leg(leg),
                "notice": "The listener's line dropped: you are now speaking with the caller.",
            },
        )
        await _announce(session, call, leg)


async def supervisor_leg_failed(runtime: Runtime, event: DomainEvent) -> None:
    """The supervisor's own phone was busy, failed or not answered."""
    supervisor_id = _supervisor_of(event.payload.get("label"))
    if supervisor_id is None:
        return
    async with session_scope(runtime) as session:
        leg_id = await session.scalar(
            sa.select(SupervisorLeg.id).where(
                SupervisorLeg.call_id == event.payload["call_id"],
                SupervisorLeg.supervisor_id == supervisor_id,
                SupervisorLeg.state.in_(ACTIVE),
            )
        )
    if leg_id is not None:
        await _close_leg(runtime, leg_id, state="failed", reason=f"your line: {event.payload.get('status')}")


def register(runtime: Runtime) -> None:
    runtime.bus.subscribe(PARTICIPANT_JOINED, supervisor_joined)
    runtime.bus.subscribe(PARTICIPANT_LEFT, someone_left)
    runtime.bus.subscribe(LEG_ENDED, supervisor_leg_failed)
