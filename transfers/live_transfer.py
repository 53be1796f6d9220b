"""Live warm transfer: hand the caller over while they are still on the line.

The caller is put on hold, the partner's line is dialled into the caller's conference, the
listener briefs the partner, then hands over: the caller comes off hold and the listener leaves.
Partner joined and listener left is the confirmed handover (``in-progress``, mode live). If the
partner does not answer within ``OPENLINE_LIVE_TRANSFER_RING_SECONDS`` their leg is dropped, the
caller is back with the listener, and the ticket waits in the partner's queue as a callback.

Every Twilio request is a call-out (``app.core.outbox``): stored in the transaction that decides
it, made after that commits with no transaction open, retried while Twilio is unreachable. A
crash in between loses no step, and Twilio is never asked to do something the database forgets.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.errors import Conflict, Unprocessable
from app.core.jobs import Job, cancel_job, schedule_job
from app.core.outbox import CallOut, call_out_after_commit, register_call_out
from app.core.runtime import Runtime
from telephony.events import LEG_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT
from telephony.models import Call
from telephony.provider import retry_when_unavailable
from telephony.third_party import (
    dial_into_call,
    hand_over_call,
    labelled,
    not_connected_state,
    number_of_label,
    release_caller,
)
from transfers.directory.models import Service
from transfers.directory.service import service_unavailable
from transfers.tickets.models import TransferTicket
from transfers.tickets.service import ActionInput, announce, apply_action, open_now
from transfers.tickets.states import TicketAction

log = logging.getLogger("openline.transfers")

RING_TIMEOUT = "ticket.live_ring_timeout"
DIAL, HAND_OVER, RELEASE = "ticket.live_dial", "ticket.live_handover", "ticket.live_release"
PARTNER_LABEL_PREFIX = "partner-"


def partner_label(ticket_id: int) -> str:
    return labelled(PARTNER_LABEL_PREFIX, ticket_id)


def ticket_of_label(label: str | None) -> int | None:
    return number_of_label(PARTNER_LABEL_PREFIX, label)


async def check_live_transfer(session: AsyncSession, *, service: Service, call_id: int | None) -> Call:
    """A live transfer needs a caller still on the line and a partner line open now."""
    if not service.live_phone:
        raise Unprocessable("mode", f"{service.name} has no live line: make a queued warm transfer")
    now = runtime_of(session).clock.now()
    if service.status != "active" or not open_now(service, now):
        raise Unprocessable("mode", f"{service.name}'s live line is closed now: make a queued warm transfer")
    if reason := service_unavailable(service, now):
        raise Unprocessable("mode", f"{service.name} is {reason}: choose another service")
    call = await session.get(Call, call_id) if call_id else None
    if call is None or call.queue_state != "connected" or not call.conference_name:
        raise Unprocessable("mode", "the caller is not on the line: make a queued warm transfer")
    return call


async def begin_live_transfer(session: AsyncSession, *, ticket: TransferTicket) -> None:
    """Called in the ticket's own transaction; the dialling follows its commit."""
    now = runtime_of(session).clock.now()
    ring = runtime_of(session).settings.live_transfer_ring_seconds
    await schedule_job(
        session,
        kind=RING_TIMEOUT,
        key=f"ticket-live-ring:{ticket.id}",
        run_at=now + timedelta(seconds=ring),
        payload={"ticket_id": ticket.id},
    )
    call_out_after_commit(session, DIAL, ticket_id=ticket.id)


async def hand_over(session: AsyncSession, *, ticket: TransferTicket) -> TransferTicket:
    """The listener has briefed the partner: take the caller off hold and leave."""
    if ticket.mode != "live" or ticket.live_state != "joined":
        raise Conflict("the partner has not joined the call yet", error="partner_not_joined")
    call_out_after_commit(session, HAND_OVER, ticket_id=ticket.id)
    return ticket


async def _with_call(
    session: AsyncSession, payload: dict[str, Any], *, live_state: str | None = None
) -> dict[str, Any] | None:
    """The request with the caller's call (and the partner's line) read fresh, in memory only."""
    ticket = await session.get(TransferTicket, payload["ticket_id"], populate_existing=True)
    if ticket is None or ticket.call_id is None or (live_state and ticket.live_state != live_state):
        return None
    call = await session.get(Call, ticket.call_id, populate_existing=True)
    service = await session.get(Service, ticket.service_id)
    if call is None or service is None or call.conference_name is None or call.ended_at is not None:
        return None
    return payload | {"call": call, "live_phone": service.live_phone}


async def _prepare_dial(session: AsyncSession, payload: dict[str, Any]) -> dict[str, Any] | None:
    return await _with_call(session, payload, live_state="ringing")


async def _dial_partner(runtime: Runtime, payload: dict[str, Any]) -> str:
    """Hold the caller, then ring the partner's line into their conference."""
    return await dial_into_call(
        runtime,
        payload["call"],
        number=payload["live_phone"],
        label=partner_label(payload["ticket_id"]),
        ring_seconds=runtime.settings.live_transfer_ring_seconds,
        hold_caller=True,
    )


async def _partner_dialled(session: AsyncSession, payload: dict[str, Any], leg: str) -> None:
    await session.execute(
        sa.update(TransferTicket).where(TransferTicket.id == payload["ticket_id"]).values(live_call_sid=leg)
    )


async def _dial_refused(session: AsyncSession, payload: dict[str, Any], exc: Exception) -> None:
    log.warning(
        "live transfer dial failed; the ticket waits in the queue",
        extra={"ticket_id": payload["ticket_id"], "error": str(exc)},
    )
    await fall_back(session, payload["ticket_id"], "failed")


async def fall_back(session: AsyncSession, ticket_id: int, state: str, *, hang_up: str | None = None) -> bool:
    """No live handover: the ticket stays in the queue as a callback and, after this commits, the
    caller comes off hold, back with the listener (and a partner line still ringing is stopped).
    Once only: the leg's status callback, its participant-leave and the ring timeout may all say so."""
    moved = await session.execute(
        sa.update(TransferTicket)
        .where(TransferTicket.id == ticket_id, TransferTicket.live_state == "ringing")
        .values(live_state=state, mode="queue")
    )
    if not moved.rowcount:
        return False
    ticket = await session.get(TransferTicket, ticket_id, populate_existing=True)
    service = await session.get(Service, ticket.service_id)
    await announce(session, ticket, service, "ticket.changed")
    call_out_after_commit(session, RELEASE, ticket_id=ticket_id, hang_up=hang_up)
    return True


async def _release_caller(runtime: Runtime, payload: dict[str, Any]) -> None:
    await release_caller(runtime, payload["call"], ringing_leg=payload.get("hang_up"))


async def _hand_over_call(runtime: Runtime, payload: dict[str, Any]) -> None:
    """The caller off hold, then the listener leaves: the partner has them."""
    await hand_over_call(runtime, payload["call"])


async def _step_failed(session: AsyncSession, payload: dict[str, Any], exc: Exception) -> None:
    log.warning("live transfer step refused", extra={"ticket_id": payload["ticket_id"], "error": str(exc)})


async def end_ringing(session: AsyncSession, job: Job) -> None:
    """The partner's line rang out: the ticket falls back, and the ringing line is stopped."""
    ticket = await session.get(TransferTicket, job.payload["ticket_id"])
    await fall_back(session, job.payload["ticket_id"], "no-answer", hang_up=ticket.live_call_sid if ticket else None)


async def partner_leg_ended(session: AsyncSession, job: Job) -> None:
    """Follows ``call.leg_ended`` for a partner's line: busy, failed or not answered. The caller
    comes off hold at once and is back with the listener; the ticket waits as a callback."""
    await fall_back(session, ticket_of_label(job.payload.get("label")), not_connected_state(job.payload["status"]))


def _partner_label(payload: dict) -> bool:
    return ticket_of_label(payload.get("label")) is not None


async def partner_joined(session: AsyncSession, job: Job) -> None:
    """Follows a partner's ``participant.joined``: their line is in the caller's conference."""
    ticket_id = ticket_of_label(job.payload.get("label"))
    moved = await session.execute(
        sa.update(TransferTicket)
        .where(TransferTicket.id == ticket_id, TransferTicket.live_state == "ringing")
        .values(live_state="joined")
    )
    if moved.rowcount:
        await cancel_job(session, f"ticket-live-ring:{ticket_id}")
        ticket = await session.get(TransferTicket, ticket_id, populate_existing=True)
        await announce(session, ticket, await session.get(Service, ticket.service_id), "ticket.changed")


async def listener_left(session: AsyncSession, job: Job) -> None:
    """Follows a listener's ``participant.left``: partner on the line and the listener gone is the
    confirmed handover (a stored job, so a crash after the leave cannot lose it)."""
    ticket = await session.scalar(
        sa.select(TransferTicket).where(
            TransferTicket.call_id == job.payload["call_id"], TransferTicket.live_state == "joined"
        )
    )
    if ticket is None:
        return
    service = await session.get(Service, ticket.service_id)
    actor = f"live:{service.name}"[:120]
    await session.execute(
        sa.update(TransferTicket).where(TransferTicket.id == ticket.id).values(live_state="handed-over")
    )
    ticket = await apply_action(session, ticket=ticket, change=ActionInput(TicketAction.accept, actor))
    await apply_action(session, ticket=ticket, change=ActionInput(TicketAction.confirm_contact, actor))


def register(runtime: Runtime) -> None:
    runtime.jobs.register(RING_TIMEOUT, end_ringing)
    retry = retry_when_unavailable
    register_call_out(
        runtime,
        DIAL,
        CallOut(
            prepare=_prepare_dial,
            send=retry(_dial_partner),
            done=_partner_dialled,
            refused=_dial_refused,
            retry_base_seconds=2,
            give_up_after=timedelta(seconds=runtime.settings.live_transfer_ring_seconds),
        ),
    )
    register_call_out(
        runtime,
        RELEASE,
        CallOut(prepare=_with_call, send=retry(_release_caller), refused=_step_failed, retry_base_seconds=1),
    )
    register_call_out(
        runtime,
        HAND_OVER,
        CallOut(prepare=_with_call, send=retry(_hand_over_call), refused=_step_failed, retry_base_seconds=1),
    )
    runtime.jobs.follow(PARTICIPANT_JOINED, "ticket.live_joined", partner_joined, when=_partner_label)
    runtime.jobs.follow(LEG_ENDED, "ticket.live_leg_ended", partner_leg_ended, when=_partner_label)
    runtime.jobs.follow(
        PARTICIPANT_LEFT,
        "ticket.live_handed_over",
        listener_left,
        when=lambda payload: payload.get("role") == "listener",
    )
