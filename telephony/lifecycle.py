"""A call's moves through the helpline's flow: waiting → claimed → connected → ended, with the
side roads (claim handed back, overflow to voicemail, abandoned). Which moves are allowed, and
what each does to the listener, is the table in ``telephony.call_states``; ``move_call`` is the
one way a call's state changes.

Each function takes a call loaded with ``lock_call`` (or otherwise serialised, see calls.py),
changes it, and queues the events; none of them commits.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.db import dialect_name, runtime_of
from app.core.errors import Conflict
from app.core.events import emit
from app.core.jobs import cancel_job, schedule_job
from app.core.line import line_settings
from telephony.call_states import (
    CALL_MOVES,
    CallEnd,
    CallMove,
    EndedBy,
    Leg,
    ListenerChange,
    Step,
    next_step,
    who_ended,
)
from telephony.callbacks import DISCONNECTED, NO_MESSAGE, ensure_callback_request
from telephony.calls import iso, publish_queue, seconds_between
from telephony.events import CALL_ANSWERED, CALL_ENDED
from telephony.models import Call, CallParticipant
from telephony.participants import someone_with_caller
from telephony.presence import hold_call_for, mark_on_call, release_listener

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


async def schedule_claim_timeout(session: AsyncSession, call: Call, now: datetime) -> None:
    """The claimed caller goes back to the queue if the listener has not joined within
    ``CLAIM_TIMEOUT_SECONDS`` (``expire_claim``), whoever claimed them: the queue or a ring-back."""
    await schedule_job(
        session,
        kind=CLAIM_TIMEOUT_JOB,
        key=claim_timeout_key(call),
        run_at=now + timedelta(seconds=CLAIM_TIMEOUT_SECONDS),
        payload={"call_id": call.id, "stamp": claim_stamp(call.claimed_at)},
    )


def overflow_key_prefix(call_id: int) -> str:
    """The start of every overflow job's key for this call (the wait's, and any wait-URL nudge):
    the call's end cancels them all by it."""
    return f"{OVERFLOW_JOB}:{call_id}:"


async def schedule_overflow(session: AsyncSession, *, call_id: int, waiting_since: datetime) -> None:
    """Offer voicemail once the caller has waited ``max_wait_seconds``, even if no wait URL is ever
    requested again. A caller handed back after that deadline gets a new, immediate job."""
    max_wait = (await line_settings(session)).max_wait_seconds
    run_at = max(waiting_since + timedelta(seconds=max_wait), runtime_of(session).clock.now())
    await schedule_job(
        session,
        kind=OVERFLOW_JOB,
        key=overflow_key_prefix(call_id) + run_at.isoformat(),
        run_at=run_at,
        payload={"call_id": call_id},
    )


async def move_call(session: AsyncSession, call: Call, move: CallMove) -> Step | None:
    """Every move of a call goes through here: the state table says whether it is allowed and
    what it does to the listener holding the call. None (and nothing changed) when not allowed."""
    step = next_step(call.queue_state, move)
    if step is None:
        return None
    call.queue_state = step.to
    call.updated_at = runtime_of(session).clock.now()
    if call.listener_id is not None and step.listener is not None:
        await _change_listener(session, call, step.listener)
    return step


async def _change_listener(session: AsyncSession, call: Call, change: ListenerChange) -> None:
    if change is ListenerChange.on_call:
        await mark_on_call(session, user_id=call.listener_id, call_id=call.id)
    elif change is ListenerChange.hold:
        if not await hold_call_for(session, user_id=call.listener_id, call_id=call.id):
            # Raising rolls the claim back too: the caller stays first in the queue.
            raise Conflict("you already have a caller; finish that call first", error="already_on_call")
    else:
        await release_listener(
            session,
            user_id=call.listener_id,
            call_id=call.id,
            status="wrap-up" if change is ListenerChange.wrap_up else None,
        )


async def claim_longest_waiting_call(session: AsyncSession, *, listener_id: int) -> Call | None:
    """A listener takes the caller who has waited longest: one UPDATE that picks, claims and
    returns them (None when nobody is waiting). Two listeners never get the same caller: the
    UPDATE re-checks ``queue_state = 'waiting'`` on the row it changes, and on SQLite a write
    statement runs alone. On PostgreSQL the pick skips callers locked by another listener's
    claim, so listeners do not queue behind one another."""
    claim = {"claimer": listener_id, "claimed_now": runtime_of(session).clock.now()}
    dialect = dialect_name(session)
    call = await session.scalar(_claim_longest_waiting(dialect, skip_locked=True), claim)
    if call is None and dialect == "postgresql":
        # Every waiting row may just be locked for a moment by a webhook (a hold-music request):
        # wait for it rather than tell the listener nobody is waiting. PostgreSQL re-checks the
        # pick's WHERE once the lock is released, so a caller claimed meanwhile is not returned.
        call = await session.scalar(_claim_longest_waiting(dialect, skip_locked=False), claim)
    if call is not None:
        await _change_listener(session, call, CALL_MOVES[("waiting", CallMove.claim)].listener)
    return call


@cache
def _claim_longest_waiting(dialect: str, *, skip_locked: bool) -> sa.Update:
    """Built once per database (an aliased pick is costly to build: each take-next paid for it):
    run with ``claimer`` (the listener) and ``claimed_now``."""
    queued = aliased(Call)  # the pick reads calls too: its own name, or it would correlate to the UPDATE
    longest_waiting = (
        sa.select(queued.id).where(queued.queue_state == "waiting").order_by(queued.waiting_since, queued.id).limit(1)
    )
    if dialect == "postgresql":
        longest_waiting = longest_waiting.with_for_update(skip_locked=skip_locked)
    step = CALL_MOVES[("waiting", CallMove.claim)]
    now = sa.bindparam("claimed_now")
    return (
        sa.update(Call)
        .where(Call.id == longest_waiting.scalar_subquery(), Call.queue_state == "waiting")
        .values(queue_state=step.to, listener_id=sa.bindparam("claimer"), claimed_at=now, updated_at=now)
        .returning(Call)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


async def answer_call(session: AsyncSession, call: Call, *, listener_call_sid: str | None) -> bool:
    """The listener has joined the caller's conference."""
    if call.listener_id is None or await move_call(session, call, CallMove.answer) is None:
        return False
    now = runtime_of(session).clock.now()
    call.answered_at = now
    call.wait_seconds = seconds_between(call.waiting_since, now)
    call.listener_call_sid = call.listener_call_sid or listener_call_sid
    await cancel_job(session, claim_timeout_key(call))
    emit(session, CALL_ANSWERED, call_id=call.id, listener_id=call.listener_id, answered_at=iso(now))
    return True


async def end_call(
    session: AsyncSession, call: Call, *, before_voicemail: bool = False, closed_by: EndedBy | None = None
) -> bool:
    """The caller's call is over. Idempotent: the first report of the end wins. ``before_voicemail``:
    they hung up while still waiting, before the move to voicemail reached them (abandoned).
    ``closed_by``: the end button or reconciliation, which know who ended it."""
    was = call.queue_state
    if call.ended_at is not None or await move_call(session, call, CallMove.end) is None:
        return False
    now = runtime_of(session).clock.now()
    legs = await _legs_of(session, call.id)
    call.ended_by = who_ended(
        CallEnd(was, call.status, legs, closed_by=closed_by, before_voicemail=before_voicemail)
    ).value
    call.abandoned = was in ("waiting", "claimed") or before_voicemail
    if call.wait_seconds is None:
        call.wait_seconds = seconds_between(call.waiting_since, now)
    call.ended_at = now
    if was in ("waiting", "claimed"):
        await publish_queue(session)
    if was == "voicemail" and not before_voicemail:
        # Reached voicemail but hung up before leaving a message: still a way back (first in
        # line if it was their listener's line that dropped).
        await ensure_callback_request(session, call, reason=DISCONNECTED if call.answered_at else NO_MESSAGE)
    emit(
        session,
        CALL_ENDED,
        call_id=call.id,
        listener_id=call.listener_id,
        ended_at=iso(now),
        abandoned=call.abandoned,
        ended_by=call.ended_by,
        # What the followers need to know whether they have anything to do (``when``): a caller
        # who hangs up while simply waiting has no session to end and no listener ringing.
        was=was,
        answered=call.answered_at is not None,
    )
    log.info("call ended", extra={"call_id": call.id, "was": was, "ended_by": call.ended_by})
    return True


async def ended_by_so_far(session: AsyncSession, call: Call) -> str | None:
    """Who ended the call; for a call going on without its listener (handed over, or their line
    dropped), who ended the listener's part of it. None while the listener is still on."""
    if call.ended_by is not None:
        return call.ended_by
    legs = await _legs_of(session, call.id)
    if not any(leg.role == "listener" and leg.left_at is not None for leg in legs):
        return None
    return who_ended(CallEnd(call.queue_state, call.status, legs)).value


# Built once: the end of every call reads it.
LEGS_OF_CALL = sa.select(CallParticipant.role, CallParticipant.joined_at, CallParticipant.left_at).where(
    CallParticipant.call_id == sa.bindparam("call_id")
)


async def _legs_of(session: AsyncSession, call_id: int) -> tuple[Leg, ...]:
    # Read without flushing the call's pending changes: participants are only ever written by Core
    # statements, which run at once, so nothing pending can change the answer, and the call's end
    # is then written in one UPDATE instead of two.
    with session.no_autoflush:
        rows = await session.execute(LEGS_OF_CALL, {"call_id": call_id})
    return tuple(Leg(*row) for row in rows)


async def release_claim(session: AsyncSession, call: Call, *, reason: str) -> bool:
    """The listener's line did not connect: the caller goes back to the front of the queue
    (``waiting_since`` is kept, so they are still the longest waiting)."""
    if await move_call(session, call, CallMove.hand_back) is None:
        return False
    call.listener_id = None
    call.listener_call_sid = None
    call.claimed_at = None
    await publish_queue(session)
    if call.waiting_since is not None:
        await schedule_overflow(session, call_id=call.id, waiting_since=call.waiting_since)
    log.warning("claim handed back to the queue", extra={"call_id": call.id, "reason": reason})
    return True


async def release_listener_from(session: AsyncSession, call: Call) -> None:
    """The listener's own line has left a call that goes on (a live handover, a dropped headset,
    hanging up with a partner on): they go into wrap-up; the call keeps its state."""
    if call.listener_id is not None and call.queue_state != "claimed":
        await release_listener(session, user_id=call.listener_id, call_id=call.id, status="wrap-up")


async def note_caller_maybe_alone(session: AsyncSession, call: Call) -> None:
    """Someone (listener, partner, anyone) left a connected call. If nobody is left with the
    caller, they may be alone in silence: check again in a moment."""
    if call.queue_state != "connected" or call.ended_at is not None or await someone_with_caller(session, call.id):
        return
    now = runtime_of(session).clock.now()
    await schedule_job(
        session,
        kind=CALLER_ALONE_JOB,
        key=f"{CALLER_ALONE_JOB}:{call.id}:{call.conference_sequence}",
        run_at=now + timedelta(seconds=CALLER_ALONE_GRACE_SECONDS),
        payload={"call_id": call.id},
    )


async def move_disconnected_to_voicemail(session: AsyncSession, call: Call) -> bool:
    return call.ended_at is None and await move_call(session, call, CallMove.rescue) is not None


async def move_to_voicemail(session: AsyncSession, call: Call) -> bool:
    if await move_call(session, call, CallMove.overflow) is None:
        return False
    call.wait_seconds = seconds_between(call.waiting_since, runtime_of(session).clock.now())
    await publish_queue(session)
    return True
