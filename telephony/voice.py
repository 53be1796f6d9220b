"""The voice webhooks' work: a call arriving, its status callbacks, the hold (wait) URL and the
fallback. Each stores its delivery first, so a retry is answered from the store and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of, session_scope
from app.core.events import emit
from app.core.jobs import schedule_job
from app.core.line import line_settings
from app.core.runtime import Runtime
from telephony import twiml
from telephony.call_states import FINAL_CALL_STATUSES, NEVER_ANSWERED, status_advances
from telephony.calls import insert_call, lock_call, lock_call_by_sid, position_in_queue, publish_queue
from telephony.events import CALL_WAITING, LEG_ENDED
from telephony.headset import publish_headset_state
from telephony.intake import Delivery, claim_delivery, record_outcome
from telephony.lifecycle import (
    OVERFLOW_JOB,
    claim_stamp,
    end_call,
    overflow_key_prefix,
    release_claim,
    release_listener_from,
    schedule_overflow,
)
from telephony.models import Call, WebhookDelivery

log = logging.getLogger("openline.telephony")


async def start_waiting(session: AsyncSession, *, call_id: int, waiting_since: datetime) -> None:
    await schedule_overflow(session, call_id=call_id, waiting_since=waiting_since)
    await publish_queue(session)
    emit(session, CALL_WAITING, call_id=call_id, waiting_since=waiting_since.isoformat())


async def receive_incoming_call(session: AsyncSession, delivery: Delivery, *, apologise: bool = False) -> str:
    """A call arrives: record it once and answer with a greeting and the caller's own conference
    (or, while the line is closed, the voicemail prompt)."""
    settings, line = runtime_of(session).settings, await line_settings(session)
    call_sid = delivery.call_sid or ""
    line_open = line.is_open(runtime_of(session).clock.now())
    if not line_open:
        reply = twiml.line_closed(settings, line.words)
    elif apologise:
        reply = twiml.apologise_and_hold(settings, call_sid, line.words)
    else:
        reply = twiml.greet_and_hold(settings, call_sid, line.words)
    if (stored := await claim_delivery(session, delivery, reply=reply)) is not None:
        return stored
    call_id = await insert_call(session, delivery.form, queue_state="waiting" if line_open else "voicemail")
    if call_id is not None and line_open:
        await start_waiting(session, call_id=call_id, waiting_since=runtime_of(session).clock.now())
    log.info("call arrived", extra={"call_sid": call_sid, "new": call_id is not None})
    return reply


async def answer_fallback(runtime: Runtime, delivery: Delivery) -> str:
    """Twilio's fallback URL, requested when answering the call failed. It owns its transaction so
    that, whatever fails here too, the caller still hears an apology and is held in their
    conference; the wait URL records the call as soon as the database answers again."""
    try:
        async with session_scope(runtime) as session:
            return await receive_incoming_call(session, delivery, apologise=True)
    except Exception:
        log.exception("fallback could not record the call", extra={"call_sid": delivery.call_sid})
        return twiml.apologise_and_hold(runtime.settings, delivery.call_sid or "", runtime.line.snapshot.words)


@dataclass(frozen=True)
class LegTag:
    """What the app put on a dialled leg's status callback URL: which call it joins, and as whom
    (``listener`` with its claim stamp, or ``partner`` with its participant label)."""

    kind: str
    call_id: int
    claim: int | None = None
    label: str | None = None


async def apply_call_status(session: AsyncSession, delivery: Delivery, *, leg: LegTag | None = None) -> str:
    """A status callback: of the caller's own call, or of a leg the app dialled into it."""
    reply = twiml.empty()
    if (stored := await claim_delivery(session, delivery, reply=reply)) is not None:
        return stored
    if leg is None:
        outcome = await _apply_caller_status(session, delivery)
    elif leg.kind == "listener" and leg.claim is not None:
        outcome = await _apply_listener_leg_status(session, delivery, leg.call_id, leg.claim)
    else:
        outcome = await _apply_other_leg_status(session, delivery, leg)
    if outcome != "applied":
        await record_outcome(session, delivery, outcome)
    return reply


async def _apply_caller_status(session: AsyncSession, delivery: Delivery) -> str:
    call = await lock_call_by_sid(session, delivery.call_sid)
    if call is None:
        log.warning("status callback for an unknown call", extra={"call_sid": delivery.call_sid})
        return "orphan"
    status = delivery.event
    if not status_advances(call.status, call.status_sequence, status, delivery.sequence):
        return "stale"
    call.status = status
    if delivery.sequence is not None:
        call.status_sequence = delivery.sequence
    call.updated_at = runtime_of(session).clock.now()
    if status in FINAL_CALL_STATUSES:
        await end_call(session, call)
    return "applied"


async def _apply_listener_leg_status(session: AsyncSession, delivery: Delivery, call_id: int, stamp: int) -> str:
    call = await lock_call(session, Call.id == call_id)
    if call is None:
        return "orphan"
    if claim_stamp(call.claimed_at) != stamp:
        return "stale"
    call.listener_call_sid = call.listener_call_sid or delivery.call_sid
    status, listener_id = delivery.event, call.listener_id
    if call.queue_state == "claimed" and (status in NEVER_ANSWERED or status == "completed"):
        await release_claim(session, call, reason=f"listener line {status}")
    elif status == "completed":
        await release_listener_from(session, call)
    await publish_headset_state(session, user_id=listener_id, call_id=call.id, leg_status=status)
    return "applied"


async def _apply_other_leg_status(session: AsyncSession, delivery: Delivery, leg: LegTag) -> str:
    """A partner's line (live warm transfer): busy, failed, no answer or cancelled means they will
    not join, and the caller must not sit on hold for the rest of the ring time."""
    call = await lock_call(session, Call.id == leg.call_id)
    if call is None:
        return "orphan"
    if delivery.event in NEVER_ANSWERED:
        emit(
            session,
            LEG_ENDED,
            call_id=call.id,
            call_sid=delivery.call_sid,
            label=leg.label or "",
            status=delivery.event,
        )
    return "applied"


async def hold_caller(session: AsyncSession, delivery: Delivery) -> str:
    """The conference wait URL: hold music, the caller's position now and then, and, past the
    longest acceptable wait, the news that they can leave a message."""
    now = runtime_of(session).clock.now()
    # Each request for hold music is its own delivery (no SequenceNumber): keyed by when it came.
    delivery = replace(delivery, key_parts=(now.isoformat(),))
    if (stored := await claim_delivery(session, delivery, reply="", outcome="music")) is not None:
        return stored or twiml.hold_music(runtime_of(session).settings, position=None, announce=False, overdue=False)
    call = await lock_call_by_sid(session, delivery.call_sid)
    if call is None and delivery.form.get("Direction", "inbound") == "inbound":
        call = await _adopt_waiting_caller(session, delivery)
    if call is None:
        # Not a caller (a leg dialled into a conference not yet started): music, nothing more.
        reply = twiml.hold_music(runtime_of(session).settings, position=None, announce=False, overdue=False)
        outcome = "orphan"
    else:
        reply, outcome = await _hold_music_for(session, call, now)
    await record_outcome(session, delivery, outcome, reply=reply)
    return reply


async def _hold_music_for(session: AsyncSession, call: Call, now: datetime) -> tuple[str, str]:
    settings, line = runtime_of(session).settings, await line_settings(session)
    position = await position_in_queue(session, call)
    overdue = (
        call.queue_state == "waiting"
        and call.waiting_since is not None
        and now - call.waiting_since >= timedelta(seconds=line.max_wait_seconds)
    )
    announce = (
        position is not None
        and not overdue
        and (
            position != call.announced_position
            or await _reassurance_due(session, call, now, timedelta(seconds=line.position_announce_seconds))
        )
    )
    if announce:
        call.announced_position = position
    if overdue:
        # The wait URL cannot move the caller itself (only Play/Say/Pause/Redirect work here):
        # the overflow job redirects the live call, at most one extra nudge a minute.
        minute = now.replace(second=0, microsecond=0).isoformat()
        await schedule_job(
            session,
            kind=OVERFLOW_JOB,
            key=f"{overflow_key_prefix(call.id)}wait:{minute}",
            run_at=now,
            payload={"call_id": call.id},
        )
    reply = twiml.hold_music(
        settings,
        position=position,
        announce=announce,
        overdue=overdue,
        track=int(now.timestamp()) // 180,
        words=line.words,
    )
    return reply, "announced" if announce else "music"


async def _reassurance_due(session: AsyncSession, call: Call, now: datetime, interval: timedelta) -> bool:
    """A caller whose place has not moved still hears it now and then, so they know they are not forgotten."""
    last = await session.scalar(
        sa.select(sa.func.max(WebhookDelivery.received_at)).where(
            WebhookDelivery.call_sid == call.call_sid,
            WebhookDelivery.endpoint == "wait",
            WebhookDelivery.outcome == "announced",
        )
    )
    return last is None or now - last >= interval


async def _adopt_waiting_caller(session: AsyncSession, delivery: Delivery) -> Call:
    """A caller on hold we have no record of (the first webhook failed and the fallback could not
    reach the database): record them now, so a listener can take them."""
    call_id = await insert_call(session, delivery.form, queue_state="waiting")
    if call_id is not None:
        await start_waiting(session, call_id=call_id, waiting_since=runtime_of(session).clock.now())
        log.warning("waiting caller adopted from the wait URL", extra={"call_id": call_id})
    call = await lock_call_by_sid(session, delivery.call_sid)
    assert call is not None
    return call
