"""A call's moves through the helpline's flow: waiting → claimed → connected → ended, with the
side roads (claim handed back, overflow to voicemail, abandoned).

Each function takes a call loaded with ``lock_call`` (or otherwise serialised, see calls.py),
changes it, and queues the events; none of them commits.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.events import emit
from app.core.jobs import cancel_job, schedule_job
from telephony.callbacks import DISCONNECTED, NO_MESSAGE, ensure_callback_request
from telephony.calls import iso, publish_queue, seconds_between
from telephony.events import CALL_ANSWERED, CALL_ENDED
from telephony.models import Call
from telephony.participants import someone_with_caller
from telephony.presence import mark_on_call, release_listener

log = logging.getLogger("openline.telephony")

OVERFLOW_JOB = "telephony.overflow"
CALLER_ALONE_JOB = "telephony.caller_alone"
# The last person leaving the caller is also what a normal hang-up looks like a moment before the caller's
# own end arrives; waiting this long tells the two apart without guessing at webhook order.
CALLER_ALONE_GRACE_SECONDS = 5
CLAIM_TIMEOUT_JOB = "telephony.claim_timeout"
# How long a claimed caller may wait for the listener's line to connect before going back to the
# front of the queue (the listener's leg rings for LISTENER_RING_SECONDS; this is the backstop).
CLAIM_TIMEOUT_SECONDS = 60


def claim_stamp(claimed_at: datetime | None) -> int:
    """Identifies one claim, so a late callback from an earlier listener's leg cannot touch a later claim."""
    return int(claimed_at.timestamp() * 1000) if claimed_at is not None else -1


def claim_timeout_key(call: Call) -> str:
    return f"{CLAIM_TIMEOUT_JOB}:{call.id}:{iso(call.claimed_at)}"


async def schedule_overflow(session: AsyncSession, *, call_id: int, waiting_since: datetime) -> None:
    """Offer voicemail once the caller has waited ``max_wait_seconds``, even if no wait URL is ever
    requested again. A caller handed back after that deadline gets a new, immediate job."""
    runtime = runtime_of(session)
    run_at = max(waiting_since + timedelta(seconds=runtime.settings.max_wait_seconds), runtime.clock.now())
    await schedule_job(session, kind=OVERFLOW_JOB, key=f"{OVERFLOW_JOB}:{call_id}:{run_at.isoformat()}",
                       run_at=run_at, payload={"call_id": call_id})


async def answer_call(session: AsyncSession, call: Call, *, listener_call_sid: str | None) -> bool:
    """The listener has joined the caller's conference."""
    if call.queue_state != "claimed" or call.listener_id is None:
        return False
    now = runtime_of(session).clock.now()
    call.queue_state = "connected"
    call.answered_at = now
    call.wait_seconds = seconds_between(call.waiting_since, now)
    call.listener_call_sid = call.listener_call_sid or listener_call_sid
    call.updated_at = now
    await mark_on_call(session, user_id=call.listener_id, call_id=call.id)
    await cancel_job(session, claim_timeout_key(call))
    emit(session, CALL_ANSWERED, call_id=call.id, listener_id=call.listener_id, answered_at=iso(now))
    return True


async def end_call(session: AsyncSession, call: Call) -> bool:
    """The caller's call is over. Idempotent: the first report of the end wins."""
    if call.ended_at is not None:
        return False
    now = runtime_of(session).clock.now()
    was = call.queue_state
    call.abandoned = was in ("waiting", "claimed")
    if call.wait_seconds is None:
        call.wait_seconds = seconds_between(call.waiting_since, now)
    call.queue_state = "ended"
    call.ended_at = now
    call.updated_at = now
    if call.listener_id is not None:
        await release_listener(session, user_id=call.listener_id, call_id=call.id,
                               status="wrap-up" if was == "connected" else None)
    if was in ("waiting", "claimed"):
        await publish_queue(session)
    if was == "voicemail":
        # Reached voicemail but hung up before leaving a message: still a way back (first in
        # line if it was their listener's line that dropped).
        await ensure_callback_request(session, call, reason=DISCONNECTED if call.answered_at else NO_MESSAGE)
    emit(session, CALL_ENDED, call_id=call.id, listener_id=call.listener_id, ended_at=iso(now),
         abandoned=call.abandoned)
    log.info("call ended", extra={"call_id": call.id, "was": was, "abandoned": call.abandoned})
    return True


async def release_claim(session: AsyncSession, call: Call, *, reason: str) -> bool:
    """The listener's line did not connect: the caller goes back to the front of the queue
    (``waiting_since`` is kept, so they are still the longest waiting)."""
    if call.queue_state != "claimed":
        return False
    listener_id = call.listener_id
    call.queue_state = "waiting"
    call.listener_id = None
    call.listener_call_sid = None
    call.claimed_at = None
    call.updated_at = runtime_of(session).clock.now()
    if listener_id is not None:
        await release_listener(session, user_id=listener_id, call_id=call.id, status=None)
    await publish_queue(session)
    if call.waiting_since is not None:
        await schedule_overflow(session, call_id=call.id, waiting_since=call.waiting_since)
    log.warning("claim handed back to the queue", extra={"call_id": call.id, "reason": reason})
    return True


async def note_caller_maybe_alone(session: AsyncSession, call: Call) -> None:
    """Someone (listener, partner, anyone) left a connected call. If nobody is left with the
    caller, they may be alone in silence: check again in a moment."""
    if call.queue_state != "connected" or call.ended_at is not None or await someone_with_caller(session, call.id):
        return
    now = runtime_of(session).clock.now()
    await schedule_job(session, kind=CALLER_ALONE_JOB, key=f"{CALLER_ALONE_JOB}:{call.id}:{call.conference_sequence}",
                       run_at=now + timedelta(seconds=CALLER_ALONE_GRACE_SECONDS), payload={"call_id": call.id})


async def move_disconnected_to_voicemail(session: AsyncSession, call: Call) -> bool:
    if call.queue_state != "connected" or call.ended_at is not None:
        return False
    call.queue_state = "voicemail"
    call.updated_at = runtime_of(session).clock.now()
    return True


async def move_to_voicemail(session: AsyncSession, call: Call) -> bool:
    if call.queue_state != "waiting":
        return False
    now = runtime_of(session).clock.now()
    call.queue_state = "voicemail"
    call.wait_seconds = seconds_between(call.waiting_since, now)
    call.updated_at = now
    await publish_queue(session)
    return True
