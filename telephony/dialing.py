"""Ringing the listener who took a caller into that caller's conference, and hanging up legs
nobody should answer any more.

Both are call-outs (``app.core.outbox``): stored in the transaction that decides them (the
claim, the claim's expiry, the caller's end), made after it commits with no transaction open (on
SQLite a transaction holds the one writer lock, and every webhook with it), their result
recorded in a transaction of its own. A crash in between loses nothing; the stored
``telephony.claim_timeout`` job remains the backstop if the listener never joins.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.jobs import Job
from app.core.outbox import CallOut, call_out_after_commit, call_out_decided, register_call_out
from app.core.runtime import Runtime
from app.core.security import User
from telephony.calls import lock_call
from telephony.conference import LISTENER_LABEL
from telephony.events import CALL_ENDED
from telephony.lifecycle import CLAIM_TIMEOUT_SECONDS, claim_stamp, release_claim
from telephony.models import Call
from telephony.provider import add_participant, hang_up_call, retry_when_unavailable
from telephony.urls import webhook_url

log = logging.getLogger("openline.telephony")

LISTENER_RING_SECONDS = 20
# A ring that did not reach Twilio is tried again this soon (then backing off), until the claim's timeout.
DIAL_RETRY_SECONDS = 2
DIAL_LISTENER = "telephony.dial_listener"
HANG_UP_LEG = "telephony.hang_up_leg"
STOP_RINGING = "telephony.stop_ringing"


def ring_claimed_listener(session: AsyncSession, call: Call) -> None:
    """In the claim's transaction: ring the listener once it has committed."""
    call_out_after_commit(
        session, DIAL_LISTENER, call_id=call.id, listener_id=call.listener_id, stamp=claim_stamp(call.claimed_at)
    )


async def ring_listener_who_took(session: AsyncSession, call: Call, listener: User) -> None:
    """In the transaction where ``listener`` (signed in, so loaded already) has just claimed
    ``call``: all that ``_prepare_dial`` would read again after the commit is at hand, so ring
    them straight after it. Should the process die first, the stored safety net rings them."""
    if call.conference_name is None or call.listener_call_sid is not None:
        return  # as _prepare_dial would: the claim's timeout hands the caller back
    await call_out_decided(
        session,
        DIAL_LISTENER,
        {"conference": call.conference_name, "to": _dial_address(listener)},
        call_id=call.id,
        listener_id=listener.id,
        stamp=claim_stamp(call.claimed_at),
    )


def _dial_address(user: User) -> str:
    # A listener on a desk phone or SIP set has a dial address; otherwise the browser headset.
    return user.dial_address or f"client:{user.headset_identity}"


async def _prepare_dial(session: AsyncSession, payload: dict[str, Any]) -> dict[str, Any] | None:
    call = await session.get(Call, payload["call_id"], populate_existing=True)
    if (
        call is None
        or call.queue_state != "claimed"
        or call.listener_id != payload["listener_id"]
        or claim_stamp(call.claimed_at) != payload["stamp"]
        or call.listener_call_sid is not None
    ):
        return None  # handed back, answered, or already ringing: never ring twice
    user = await session.get(User, payload["listener_id"])
    if user is None or call.conference_name is None:
        return None
    return payload | {"conference": call.conference_name, "to": _dial_address(user)}


async def _dial(runtime: Runtime, payload: dict[str, Any]) -> str:
    participant = await add_participant(
        runtime,
        payload["conference"],
        to=payload["to"],
        label=LISTENER_LABEL,
        # The leg's own progress comes to the status webhook, tagged with this claim, so a
        # listener who does not answer hands the caller straight back.
        status_callback=webhook_url(
            runtime.settings, "status", leg="listener", call=payload["call_id"], claim=payload["stamp"]
        ),
        # The listener starts the conference (the caller stops hearing hold music) but does
        # not end it on leaving: in a warm transfer the caller stays on with the partner.
        start_conference_on_enter=True,
        end_conference_on_exit=False,
        ring_seconds=LISTENER_RING_SECONDS,
    )
    return participant.call_sid


async def _dialled(session: AsyncSession, payload: dict[str, Any], leg: str) -> None:
    await session.execute(
        sa.update(Call)
        .where(
            Call.id == payload["call_id"],
            Call.listener_call_sid.is_(None),
            Call.queue_state.in_(("claimed", "connected")),
        )
        .values(listener_call_sid=leg)
        .execution_options(synchronize_session=False)
    )


async def _dial_refused(session: AsyncSession, payload: dict[str, Any], exc: Exception) -> None:
    """Twilio refused to ring the listener: the caller goes straight back to the front of the queue."""
    call = await lock_call(session, Call.id == payload["call_id"])
    if call is not None and claim_stamp(call.claimed_at) == payload["stamp"]:
        await release_claim(session, call, reason="dial failed")


def hang_up_leg(session: AsyncSession, call_sid: str) -> None:
    """After this commits, hang up a leg (a listener's line that must not join any more)."""
    call_out_after_commit(session, HANG_UP_LEG, call_sid=call_sid)


async def _hang_up(runtime: Runtime, payload: dict[str, Any]) -> None:
    await hang_up_call(runtime, payload["call_sid"])


async def _not_hung_up(session: AsyncSession, payload: dict[str, Any], exc: Exception) -> None:
    # Most often the leg had already ended on its own.
    log.info("leg not hung up", extra={"error": str(exc)})


async def stop_ringing_listener(session: AsyncSession, job: Job) -> None:
    """Follows an abandoned ``call.ended``: a caller who hung up while their listener's line was
    still ringing. Stop the ringing, or the listener would answer into an empty conference."""
    call = await session.get(Call, job.payload["call_id"])
    if call is not None and call.answered_at is None and call.listener_call_sid:
        hang_up_leg(session, call.listener_call_sid)


def _maybe_ringing(payload: dict[str, Any]) -> bool:
    """Abandoned while a listener may still be being rung: anything but plain waiting (a claim,
    or a caller who had been handed to voicemail)."""
    return bool(payload.get("abandoned")) and payload.get("was") != "waiting"


async def expire_claim(session: AsyncSession, job: Job) -> None:
    """The ``telephony.claim_timeout`` job: the listener never joined, so the caller goes back."""
    call = await lock_call(session, Call.id == job.payload["call_id"])
    if call is None or call.queue_state != "claimed" or claim_stamp(call.claimed_at) != job.payload["stamp"]:
        return
    leg = call.listener_call_sid
    await release_claim(session, call, reason="listener never joined")
    if leg:
        # Stop the abandoned leg from joining later and talking over a different claim.
        hang_up_leg(session, leg)


def register(runtime: Runtime) -> None:
    register_call_out(
        runtime,
        DIAL_LISTENER,
        CallOut(
            prepare=_prepare_dial,
            send=retry_when_unavailable(_dial),
            done=_dialled,
            refused=_dial_refused,
            retry_base_seconds=DIAL_RETRY_SECONDS,
            give_up_after=timedelta(seconds=CLAIM_TIMEOUT_SECONDS),
        ),
    )
    register_call_out(runtime, HANG_UP_LEG, CallOut(send=retry_when_unavailable(_hang_up), refused=_not_hung_up))
    runtime.jobs.follow(CALL_ENDED, STOP_RINGING, stop_ringing_listener, when=_maybe_ringing)
