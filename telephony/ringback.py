"""Ringing a caller back: "Call back" on a claimed callback makes an outbound call from the line's
number to the caller, who joins the call's own conference; the listener is then rung into it
exactly as for a caller taken from the queue, and the session runs as for any call.

The ring-back is a ``Call`` row of its own (direction ``outbound-api``), written in the request's
transaction already claimed by the listener and linked to the callback by a ``CallbackAttempt``.
Twilio's CallSid is not known until the REST request returns, so the row starts with a
provisional one and every webhook about it carries the call's id in its query string
(``?call=``), adopting the real CallSid when it first sees it.

Placing the call follows the outbox pattern: the request stores the ``telephony.ring_back`` job;
the job checks the call still wants ringing and emits ``telephony.ring_back.place``; after that
commits, the handler calls Twilio with no transaction open and records the CallSid in a new one.
``telephony.ring_back_timeout`` frees the listener should every callback about the call be lost.

A ring-back that does not reach the caller (no answer, busy, failed, their answering machine, or
they hang up before the listener joins) ends at once: the listener is free, the callback stays
theirs with the attempt's result, and nothing is ever left on the caller's answering machine.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import is_postgres, runtime_of
from app.core.errors import Conflict, NotFound
from app.core.jobs import Job, schedule_job
from app.core.line import line_settings
from app.core.outbox import CallOut, register_call_out
from app.core.runtime import Runtime
from app.core.security import User
from telephony import twiml
from telephony.call_states import FINAL_CALL_STATUSES
from telephony.callbacks import describe_callback_request, publish_callbacks
from telephony.calls import lock_call
from telephony.dialing import hang_up_leg, ring_claimed_listener
from telephony.events import PARTICIPANT_JOINED
from telephony.intake import Delivery, claim_delivery, record_outcome
from telephony.lifecycle import end_call, schedule_claim_timeout
from telephony.models import Call, CallbackAttempt, CallbackRequest
from telephony.presence import check_ready_for_next, hold_call_for
from telephony.provider import place_call, retry_when_unavailable
from telephony.urls import webhook_url

log = logging.getLogger("openline.telephony")

OUTBOUND = "outbound-api"
PROVISIONAL = "ringback-"
RING_BACK_JOB = "telephony.ring_back"
RING_BACK_TIMEOUT_JOB = "telephony.ring_back_timeout"
# Long enough for someone to reach their phone, short enough to end before most voicemail
# greetings would pick up (machine detection is the backstop).
CALLER_RING_SECONDS = 25
# The backstop: by then Twilio has long reported how the ring-back went.
RING_BACK_TIMEOUT_SECONDS = 180
MACHINE_ANSWERS = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


async def ring_back_caller(session: AsyncSession, *, callback_id: int, user: User) -> dict[str, Any]:
    """Ring back the caller of a callback this listener has claimed. 404 if it is not theirs;
    409 ``already_on_call``; 409 ``number_withheld`` when there is no number to ring."""
    callback = await _claimed_callback(session, callback_id=callback_id, user_id=user.id)
    original = await session.get(Call, callback.call_id)
    if original is None or original.from_withheld or original.from_encrypted is None:
        raise Conflict("this caller withheld their number, so the line cannot ring them back", error="number_withheld")
    await check_ready_for_next(session, listener_id=user.id)
    runtime = runtime_of(session)
    now = runtime.clock.now()
    provisional = PROVISIONAL + secrets.token_hex(16)
    # The caller's number columns keep their meaning on the ring-back (the caller's, encrypted and
    # hashed), so the call card and the repeat-caller history work as for any call.
    call = Call(
        call_sid=provisional,
        direction=OUTBOUND,
        status="queued",
        status_sequence=-1,
        from_encrypted=original.from_encrypted,
        from_hash=original.from_hash,
        from_withheld=False,
        from_masked=original.from_masked,
        to_number=original.to_number,
        queue_state="claimed",
        claimed_at=now,
        listener_id=user.id,
        conference_name=twiml.conference_name(provisional),
        abandoned=False,
        created_at=now,
        updated_at=now,
    )
    session.add(call)
    await session.flush()
    if not await hold_call_for(session, user_id=user.id, call_id=call.id):
        raise Conflict("you already have a caller; finish that call first", error="already_on_call")
    session.add(CallbackAttempt(callback_request_id=callback.id, call_id=call.id, listener_id=user.id, started_at=now))
    await schedule_job(
        session, kind=RING_BACK_JOB, key=f"{RING_BACK_JOB}:{call.id}", run_at=now, payload={"call_id": call.id}
    )
    await schedule_job(
        session,
        kind=RING_BACK_TIMEOUT_JOB,
        key=f"{RING_BACK_TIMEOUT_JOB}:{call.id}",
        run_at=now + timedelta(seconds=RING_BACK_TIMEOUT_SECONDS),
        payload={"call_id": call.id},
    )
    await record_audit(
        session,
        actor=f"user:{user.username}",
        action="callback.ring_back",
        subject_type="callback_request",
        subject_id=callback.id,
        call_id=call.id,
    )
    log.info("ringing a caller back", extra={"call_id": call.id, "callback_id": callback.id})
    return await describe_callback_request(session, callback.id, user.id)


async def _claimed_callback(session: AsyncSession, *, callback_id: int, user_id: int) -> CallbackRequest:
    stmt = sa.select(CallbackRequest).where(
        CallbackRequest.id == callback_id, CallbackRequest.status == "claimed", CallbackRequest.claimed_by == user_id
    )
    if is_postgres(session):
        stmt = stmt.with_for_update()
    callback = await session.scalar(stmt)
    if callback is None:
        raise NotFound("no callback claimed by you with that id")
    return callback


async def _prepare_ring_back(session: AsyncSession, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The ``telephony.ring_back`` job is a call-out: still to be placed? The caller's number is
    decrypted for the request only, in memory, never into the stored job."""
    call = await session.get(Call, payload["call_id"], populate_existing=True)
    if call is None or call.queue_state != "claimed" or not call.call_sid.startswith(PROVISIONAL):
        return None
    return payload | {"provisional": call.call_sid, "to": runtime_of(session).crypto.decrypt(call.from_encrypted) or ""}


async def _place(runtime: Runtime, payload: dict[str, Any]) -> str:
    settings, call_id = runtime.settings, payload["call_id"]
    return await place_call(
        runtime,
        to=payload["to"],
        url=webhook_url(settings, "ringback", call=call_id),
        status_callback=webhook_url(settings, "status", leg="ringback", call=call_id),
        ring_seconds=CALLER_RING_SECONDS,
    )


async def _placed(session: AsyncSession, payload: dict[str, Any], call_sid: str) -> None:
    # A webhook may have brought the CallSid first: it is only ever set once.
    await session.execute(
        sa.update(Call)
        .where(Call.id == payload["call_id"], Call.call_sid == payload["provisional"])
        .values(call_sid=call_sid)
        .execution_options(synchronize_session=False)
    )


async def _not_placed(session: AsyncSession, payload: dict[str, Any], exc: Exception) -> None:
    # Twilio's message can quote the number: only its status and code are logged.
    log.warning(
        "could not ring the caller back",
        extra={
            "call_id": payload["call_id"],
            "status": getattr(exc, "status", None),
            "code": getattr(exc, "code", None),
        },
    )
    call = await lock_call(session, Call.id == payload["call_id"])
    if call is not None and call.queue_state == "claimed" and call.call_sid == payload["provisional"]:
        await finish_unconnected(session, call, result="failed")


def _adopt_call_sid(call: Call, call_sid: str | None) -> None:
    if call_sid and call.call_sid.startswith(PROVISIONAL):
        call.call_sid = call_sid


async def _attempt_of(session: AsyncSession, call_id: int) -> CallbackAttempt | None:
    return await session.scalar(
        sa.select(CallbackAttempt).where(CallbackAttempt.call_id == call_id).execution_options(populate_existing=True)
    )


async def answer_ring_back(session: AsyncSession, delivery: Delivery, *, call_id: int) -> str:
    """The ring-back's ``Url``, requested when the caller's phone is answered: a person is told who
    is calling and waits for the listener, who is rung now; a machine is hung up on in silence."""
    if (stored := await claim_delivery(session, delivery, reply="")) is not None:
        return stored or twiml.hang_up()
    call = await lock_call(session, Call.id == call_id, Call.direction == OUTBOUND)
    if call is None:
        reply, outcome = twiml.hang_up(), "orphan"
    elif call.queue_state != "claimed" or call.ended_at is not None or call.listener_id is None:
        _adopt_call_sid(call, delivery.call_sid)
        reply, outcome = twiml.hang_up(), "stale"
    elif delivery.form.get("AnsweredBy", "") in MACHINE_ANSWERS:
        _adopt_call_sid(call, delivery.call_sid)
        await finish_unconnected(session, call, result="voicemail")
        reply, outcome = twiml.hang_up(), "machine"
    else:
        _adopt_call_sid(call, delivery.call_sid)
        await _connect_listener(session, call)
        assert call.conference_name is not None
        words = (await line_settings(session)).words
        reply, outcome = twiml.return_call(runtime_of(session).settings, call.conference_name, words), "applied"
    await record_outcome(session, delivery, outcome, reply=reply)
    return reply


async def _connect_listener(session: AsyncSession, call: Call) -> None:
    """The caller is on the line: from here the call is a claimed caller like any other."""
    now = runtime_of(session).clock.now()
    call.waiting_since = now
    call.updated_at = now
    attempt = await _attempt_of(session, call.id)
    if attempt is not None:
        attempt.result = "answered"
    await schedule_claim_timeout(session, call, now)
    await publish_callbacks(session)


async def ring_listener_in(session: AsyncSession, job: Job) -> None:
    """Follows the caller's ``participant.joined``: the caller rung back is in their conference, so
    ring the listener, as for a caller taken from the queue. Not sooner: whoever creates a
    conference sets its callbacks, and the caller's TwiML is what sets ours."""
    call = await session.get(Call, job.payload["call_id"])
    if (
        call is not None
        and call.direction == OUTBOUND
        and call.queue_state == "claimed"
        and call.listener_call_sid is None
        and call.waiting_since is not None
    ):
        ring_claimed_listener(session, call)


async def apply_ring_back_status(session: AsyncSession, delivery: Delivery, *, call_id: int) -> str:
    """A status callback of the ring-back leg (``?leg=ringback&call=``)."""
    reply = twiml.empty()
    if (stored := await claim_delivery(session, delivery, reply=reply)) is not None:
        return stored
    call = await lock_call(session, Call.id == call_id, Call.direction == OUTBOUND)
    outcome = "orphan" if call is None else await _apply_status(session, call, delivery)
    if outcome != "applied":
        await record_outcome(session, delivery, outcome)
    return reply


async def _apply_status(session: AsyncSession, call: Call, delivery: Delivery) -> str:
    _adopt_call_sid(call, delivery.call_sid)
    status = delivery.event
    if call.status in FINAL_CALL_STATUSES or (
        delivery.sequence is not None and delivery.sequence <= call.status_sequence
    ):
        return "stale"
    call.status = status
    if delivery.sequence is not None:
        call.status_sequence = delivery.sequence
    call.updated_at = runtime_of(session).clock.now()
    if status not in FINAL_CALL_STATUSES:
        return "applied"
    if call.answered_at is None:
        attempt = await _attempt_of(session, call.id)
        await finish_unconnected(session, call, result=unconnected_result(status, attempt and attempt.result))
    else:
        await end_call(session, call)
        await _close_attempt(session, call.id, result=None)
    return "applied"


def unconnected_result(status: str, so_far: str | None) -> str:
    """Pure: what to tell the listener about a ring-back that ended before they joined."""
    if status != "completed":
        return status  # no-answer, busy, failed, canceled
    return so_far if so_far == "voicemail" else "hung-up"


async def finish_unconnected(session: AsyncSession, call: Call, *, result: str) -> None:
    """End a ring-back the listener never joined: they are free at once and the callback, still
    theirs, shows how the attempt went."""
    caller_answered = call.waiting_since is not None
    await end_call(session, call)
    # Only a caller who picked up and was left waiting counts as abandoned on the board.
    call.abandoned = caller_answered
    await _close_attempt(session, call.id, result=result)
    log.info("ring-back did not connect", extra={"call_id": call.id, "result": result})


async def _close_attempt(session: AsyncSession, call_id: int, *, result: str | None) -> None:
    attempt = await _attempt_of(session, call_id)
    if attempt is None or attempt.ended_at is not None:
        return
    attempt.ended_at = runtime_of(session).clock.now()
    if result is not None:
        attempt.result = result
    await publish_callbacks(session)


async def expire_ring_back(session: AsyncSession, job: Job) -> None:
    """The ``telephony.ring_back_timeout`` job: nothing came back about a ring-back the caller never
    answered (the process died before dialling, or Twilio's callbacks were lost)."""
    call = await lock_call(session, Call.id == job.payload["call_id"])
    if call is None or call.queue_state != "claimed" or call.waiting_since is not None:
        return
    placed = not call.call_sid.startswith(PROVISIONAL)
    if placed:
        hang_up_leg(session, call.call_sid)
    await finish_unconnected(session, call, result="no-answer" if placed else "failed")


def register(runtime: Runtime) -> None:
    register_call_out(
        runtime,
        RING_BACK_JOB,
        CallOut(
            prepare=_prepare_ring_back,
            send=retry_when_unavailable(_place),
            done=_placed,
            refused=_not_placed,
            give_up_after=timedelta(seconds=RING_BACK_TIMEOUT_SECONDS),
        ),
    )
    runtime.jobs.register(RING_BACK_TIMEOUT_JOB, expire_ring_back, give_up_after=timedelta(hours=1))
    runtime.jobs.follow(
        PARTICIPANT_JOINED,
        "telephony.ring_back_listener",
        ring_listener_in,
        # Only a caller rung back (an outbound call) waits for this: no job for every other join.
        when=lambda payload: payload.get("role") == "caller" and payload.get("direction", OUTBOUND) == OUTBOUND,
    )
