"""Live warm transfer: hand the caller over while they are still on the line.

The caller is put on hold, the partner's line is dialled into the caller's conference, the
listener briefs the partner, then hands over: the caller comes off hold and the listener leaves.
Partner joined and listener left is the confirmed handover (``in-progress``, mode live). If the
partner does not answer within ``OPENLINE_LIVE_TRANSFER_RING_SECONDS`` their leg is dropped, the
caller is back with the listener, and the ticket waits in the partner's queue as a callback.

Provider calls happen after the transaction that decided them has committed (domain events), so
Twilio is never asked to do something the database then forgets.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of, session_scope
from app.core.errors import Conflict, Unprocessable
from app.core.events import DomainEvent, emit
from app.core.jobs import Job, cancel_job, schedule_job
from app.core.runtime import Runtime
from telephony.conference import LISTENER_LABEL
from telephony.events import LEG_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT
from telephony.models import Call
from telephony.participants import hold_in_conference, remove_from_conference
from telephony.provider import ProviderError, add_participant, hang_up_call
from telephony.urls import webhook_url
from transfers.directory.models import Service
from transfers.states import TicketAction
from transfers.tickets.models import TransferTicket
from transfers.tickets.service import ActionInput, announce, apply_action, open_now

log = logging.getLogger("openline.transfers")

RING_TIMEOUT = "ticket.live_ring_timeout"
DIAL, HAND_OVER, DROP = "ticket.live_dial", "ticket.live_handover", "ticket.live_drop"
PARTNER_LABEL_PREFIX = "partner-"


def partner_label(ticket_id: int) -> str:
    return f"{PARTNER_LABEL_PREFIX}{ticket_id}"


def ticket_of_label(label: str) -> int | None:
    suffix = label.removeprefix(PARTNER_LABEL_PREFIX)
    return int(suffix) if label.startswith(PARTNER_LABEL_PREFIX) and suffix.isdigit() else None


async def check_live_transfer(session: AsyncSession, *, service: Service, call_id: int | None) -> Call:
    """A live transfer needs a caller still on the line and a partner line open now."""
    if not service.live_phone:
        raise Unprocessable("mode", f"{service.name} has no live line: make a queued warm transfer")
    if service.status != "active" or not open_now(service, runtime_of(session).clock.now()):
        raise Unprocessable("mode", f"{service.name}'s live line is closed now: make a queued warm transfer")
    call = await session.get(Call, call_id) if call_id else None
    if call is None or call.queue_state != "connected" or not call.conference_name:
        raise Unprocessable("mode", "the caller is not on the line: make a queued warm transfer")
    return call


async def begin_live_transfer(session: AsyncSession, *, ticket: TransferTicket) -> None:
    """Called in the ticket's own transaction; the dialling follows its commit."""
    now = runtime_of(session).clock.now()
    ring = runtime_of(session).settings.live_transfer_ring_seconds
    await schedule_job(session, kind=RING_TIMEOUT, key=f"ticket-live-ring:{ticket.id}",
                       run_at=now + timedelta(seconds=ring), payload={"ticket_id": ticket.id})
    emit(session, DIAL, ticket_id=ticket.id)


async def hand_over(session: AsyncSession, *, ticket: TransferTicket) -> TransferTicket:
    """The listener has briefed the partner: take the caller off hold and leave."""
    if ticket.mode != "live" or ticket.live_state != "joined":
        raise Conflict("the partner has not joined the call yet", error="partner_not_joined")
    emit(session, HAND_OVER, ticket_id=ticket.id)
    return ticket


async def _live_call(runtime: Runtime, ticket_id: int) -> tuple[TransferTicket, Service, Call] | None:
    async with session_scope(runtime) as session:
        ticket = await session.get(TransferTicket, ticket_id)
        if ticket is None or ticket.call_id is None:
            return None
        service = await session.get(Service, ticket.service_id)
        call = await session.get(Call, ticket.call_id)
        if service is None or call is None or call.conference_name is None:
            return None
        return ticket, service, call


async def dial_partner(runtime: Runtime, event: DomainEvent) -> None:
    found = await _live_call(runtime, event.payload["ticket_id"])
    if found is None:
        return
    ticket, service, call = found
    assert service.live_phone and call.conference_name
    label = partner_label(ticket.id)
    try:
        await hold_in_conference(runtime, call, call.call_sid, hold=True)
        leg = await add_participant(
            runtime, call.conference_name, to=service.live_phone, label=label,
            # Busy, failed or no answer comes back on this URL at once: the caller is not kept on
            # hold for the rest of the ring time.
            status_callback=webhook_url(runtime.settings, "status", leg="partner", call=call.id, label=label),
            # The partner must not end the caller's call by leaving; the caller still does.
            start_conference_on_enter=True, end_conference_on_exit=False,
            ring_seconds=runtime.settings.live_transfer_ring_seconds)
    except ProviderError as exc:
        log.warning("live transfer dial failed; the ticket waits in the queue", extra={"ticket_id": ticket.id,
                                                                                     "error": str(exc)})
        await _fall_back(runtime, ticket.id, "failed", hang_up=None)
        return
    async with session_scope(runtime) as session:
        await session.execute(sa.update(TransferTicket).where(TransferTicket.id == ticket.id)
                              .values(live_call_sid=leg.call_sid))


async def _fall_back(runtime: Runtime, ticket_id: int, state: str, *, hang_up: str | None) -> None:
    """No live handover: the caller comes back to the listener, the ticket stays as a callback."""
    async with session_scope(runtime) as session:
        fell_back = await _mark_fallen_back(session, ticket_id, state)
    if fell_back:  # once: the leg's status callback and its participant-leave may both say so
        await _drop_partner_leg(runtime, ticket_id, hang_up)


async def _mark_fallen_back(session: AsyncSession, ticket_id: int, state: str) -> bool:
    moved = await session.execute(sa.update(TransferTicket).where(
        TransferTicket.id == ticket_id, TransferTicket.live_state == "ringing").values(live_state=state, mode="queue"))
    if not moved.rowcount:
        return False
    ticket = await session.get(TransferTicket, ticket_id, populate_existing=True)
    service = await session.get(Service, ticket.service_id)
    await announce(session, ticket, service, "ticket.changed")
    return True


async def _drop_partner_leg(runtime: Runtime, ticket_id: int, leg: str | None) -> None:
    found = await _live_call(runtime, ticket_id)
    if found is None:
        return
    _, _, call = found
    if leg:
        try:
            await hang_up_call(runtime, leg)
        except ProviderError as exc:  # most often the line had already rung out
            log.info("partner's leg not hung up", extra={"ticket_id": ticket_id, "error": str(exc)})
    try:
        await hold_in_conference(runtime, call, call.call_sid, hold=False)
    except ProviderError as exc:
        log.warning("caller not taken off hold", extra={"ticket_id": ticket_id, "error": str(exc)})


async def end_ringing(session: AsyncSession, job: Job) -> None:
    """The partner's line rang out: the job marks it; the provider clean-up follows the commit."""
    if await _mark_fallen_back(session, job.payload["ticket_id"], "no-answer"):
        emit(session, DROP, ticket_id=job.payload["ticket_id"])


async def drop_partner(runtime: Runtime, event: DomainEvent) -> None:
    found = await _live_call(runtime, event.payload["ticket_id"])
    leg = found[0].live_call_sid if found else None
    await _drop_partner_leg(runtime, event.payload["ticket_id"], leg)


async def release_caller(runtime: Runtime, event: DomainEvent) -> None:
    found = await _live_call(runtime, event.payload["ticket_id"])
    if found is None:
        return
    _, _, call = found
    try:
        await hold_in_conference(runtime, call, call.call_sid, hold=False)
        await remove_from_conference(runtime, call, LISTENER_LABEL)
    except ProviderError as exc:
        log.warning("hand-over step failed", extra={"ticket_id": event.payload["ticket_id"], "error": str(exc)})


async def partner_leg_ended(runtime: Runtime, event: DomainEvent) -> None:
    """The partner's line was busy, failed or not answered: the caller comes off hold at once and
    is back with the listener; the ticket waits in the partner's queue as a callback."""
    ticket_id = ticket_of_label(event.payload.get("label") or "")
    if ticket_id is not None:
        state = {"busy": "busy", "failed": "failed"}.get(event.payload["status"], "no-answer")
        await _fall_back(runtime, ticket_id, state, hang_up=None)


def _partner_label(payload: dict) -> bool:
    return ticket_of_label(payload.get("label") or "") is not None


async def partner_joined(session: AsyncSession, job: Job) -> None:
    """Follows a partner's ``participant.joined``: their line is in the caller's conference."""
    ticket_id = ticket_of_label(job.payload.get("label") or "")
    moved = await session.execute(sa.update(TransferTicket).where(
        TransferTicket.id == ticket_id, TransferTicket.live_state == "ringing").values(live_state="joined"))
    if moved.rowcount:
        await cancel_job(session, f"ticket-live-ring:{ticket_id}")
        ticket = await session.get(TransferTicket, ticket_id, populate_existing=True)
        await announce(session, ticket, await session.get(Service, ticket.service_id), "ticket.changed")


async def listener_left(session: AsyncSession, job: Job) -> None:
    """Follows a listener's ``participant.left``: partner on the line and the listener gone is the
    confirmed handover (a stored job, so a crash after the leave cannot lose it)."""
    ticket = await session.scalar(sa.select(TransferTicket).where(
        TransferTicket.call_id == job.payload["call_id"], TransferTicket.live_state == "joined"))
    if ticket is None:
        return
    service = await session.get(Service, ticket.service_id)
    actor = f"live:{service.name}"[:120]
    await session.execute(sa.update(TransferTicket).where(TransferTicket.id == ticket.id)
                          .values(live_state="handed-over"))
    ticket = await apply_action(session, ticket=ticket, change=ActionInput(TicketAction.accept, actor))
    await apply_action(session, ticket=ticket, change=ActionInput(TicketAction.confirm_contact, actor))


def register(runtime: Runtime) -> None:
    runtime.jobs.register(RING_TIMEOUT, end_ringing)
    runtime.bus.subscribe(DIAL, dial_partner)
    runtime.bus.subscribe(HAND_OVER, release_caller)
    runtime.bus.subscribe(DROP, drop_partner)
    runtime.jobs.follow(PARTICIPANT_JOINED, "ticket.live_joined", partner_joined, when=_partner_label)
    runtime.bus.subscribe(LEG_ENDED, partner_leg_ended)
    runtime.jobs.follow(PARTICIPANT_LEFT, "ticket.live_handed_over", listener_left,
                        when=lambda payload: payload.get("role") == "listener")
