"""Ringing the listener who took a caller into that caller's conference.

The REST dial runs in a handler of ``call.claimed``, which the event bus calls only after the
claim has committed. We chose that over a ``telephony.dial_listener`` job because:

* no database transaction is open while Twilio is called (a job runs inside its transaction,
  which on SQLite would hold the single write lock, and every webhook with it, for the length
  of a REST round trip);
* the listener's line rings at once, not at the job loop's next poll.

What a job would have given, surviving a crash between commit and dial, comes from the stored
``telephony.claim_timeout`` job scheduled with the claim: if the listener has not joined within
CLAIM_TIMEOUT_SECONDS, the caller goes back to the front of the queue. A dial that Twilio refuses
hands the caller back straight away. Either way nobody is stranded in 'claimed'.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of, session_scope
from app.core.events import DomainEvent
from app.core.jobs import Job
from app.core.runtime import Runtime
from app.core.security import User
from telephony.calls import lock_call, lock_call_by_id
from telephony.conference import LISTENER_LABEL
from telephony.lifecycle import claim_stamp, release_claim
from telephony.models import Call
from telephony.provider import ProviderError, add_participant, hang_up_call
from telephony.urls import webhook_url

log = logging.getLogger("openline.telephony")

LISTENER_RING_SECONDS = 20


@dataclass(frozen=True)
class DialTarget:
    conference: str
    to: str
    claimed_at: datetime


async def _dial_target(session: AsyncSession, *, call_id: int, listener_id: int) -> DialTarget | None:
    call = await session.get(Call, call_id, populate_existing=True)
    if call is None or call.queue_state != "claimed" or call.listener_id != listener_id or call.claimed_at is None:
        return None
    user = await session.get(User, listener_id)
    if user is None or call.conference_name is None:
        return None
    # A listener on a desk phone or SIP set has a dial address; otherwise the browser headset.
    to = user.dial_address or f"client:{user.headset_identity}"
    return DialTarget(call.conference_name, to, call.claimed_at)


async def dial_claimed_listener(runtime: Runtime, event: DomainEvent) -> None:
    call_id, listener_id = event.payload["call_id"], event.payload["listener_id"]
    async with session_scope(runtime) as session:
        target = await _dial_target(session, call_id=call_id, listener_id=listener_id)
    if target is None:
        return
    stamp = claim_stamp(target.claimed_at)
    try:
        participant = await add_participant(
            runtime, target.conference, to=target.to, label=LISTENER_LABEL,
            # The leg's own progress comes to the status webhook, tagged with this claim, so a
            # listener who does not answer hands the caller straight back.
            status_callback=webhook_url(runtime.settings, "status", leg="listener", call=call_id, claim=stamp),
            # The listener starts the conference (the caller stops hearing hold music) but does
            # not end it on leaving: in a warm transfer the caller stays on with the partner.
            start_conference_on_enter=True, end_conference_on_exit=False, ring_seconds=LISTENER_RING_SECONDS)
    except ProviderError as exc:
        log.warning("could not ring the listener; caller back in the queue",
                    extra={"call_id": call_id, "error": str(exc)})
        async with session_scope(runtime) as session:
            call = await lock_call_by_id(session, call_id)
            if call is not None and claim_stamp(call.claimed_at) == stamp:
                await release_claim(session, call, reason="dial failed")
        return
    async with session_scope(runtime) as session:
        await session.execute(
            sa.update(Call).where(Call.id == call_id, Call.claimed_at == target.claimed_at,
                                  Call.listener_call_sid.is_(None))
            .values(listener_call_sid=participant.call_sid).execution_options(synchronize_session=False))


async def stop_ringing_listener(runtime: Runtime, event: DomainEvent) -> None:
    """On ``call.ended``: a caller who hung up while their listener's line was still ringing. Stop
    the ringing, or the listener would answer into an empty conference of the same name."""
    if not event.payload.get("abandoned"):
        return
    async with session_scope(runtime) as session:
        call = await session.get(Call, event.payload["call_id"])
        leg = call.listener_call_sid if call is not None and call.answered_at is None else None
    if leg is None:
        return
    try:
        await hang_up_call(runtime, leg)
    except ProviderError as exc:
        # Most often the leg had already ended on its own.
        log.info("listener's leg not hung up", extra={"call_id": event.payload["call_id"], "error": str(exc)})


async def expire_claim(session: AsyncSession, job: Job) -> None:
    """The ``telephony.claim_timeout`` job: the listener never joined, so the caller goes back."""
    call = await lock_call(session, Call.id == job.payload["call_id"])
    if call is None or call.queue_state != "claimed" or claim_stamp(call.claimed_at) != job.payload["stamp"]:
        return
    leg = call.listener_call_sid
    await release_claim(session, call, reason="listener never joined")
    if leg:
        try:
            # Stop the abandoned leg from joining later and talking over a different claim.
            await hang_up_call(runtime_of(session), leg)
        except ProviderError as exc:
            log.warning("could not hang up the listener's leg", extra={"call_id": call.id, "error": str(exc)})
