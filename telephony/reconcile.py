"""Reconciliation: the calls the database holds as live, checked with Twilio.

Callbacks can be lost (Openline down or restarting while a caller hangs up, a proxy dropping a
request): without this a listener would stay "on a call" that ended hours ago, and the front of
the queue would be callers who have gone. At start-up and every minute each live call is asked
of Twilio (``GET Calls/{Sid}``); one Twilio has finished (or does not know) is closed as if its
final callback had come, which frees its listener. No transaction is open across the REST
requests: read the list, ask Twilio, then close each in a transaction of its own.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import sqlalchemy as sa

from app.core.db import session_scope
from app.core.errors import NotFound, ServiceUnavailable
from app.core.runtime import Runtime
from telephony.call_states import FINAL_CALL_STATUSES, EndedBy
from telephony.calls import lock_call_by_id
from telephony.conference import LISTENER_LABEL
from telephony.lifecycle import end_call, release_listener_from
from telephony.models import Call, ListenerPresence
from telephony.participants import hold_in_conference, remove_from_conference, someone_with_caller
from telephony.presence import release_listener
from telephony.provider import ProviderError, fetch_call_status, hang_up_call, redirect_call
from telephony.survey import keypad_survey_agreed
from telephony.urls import webhook_url

log = logging.getLogger("openline.telephony")

RECONCILE_EVERY = timedelta(minutes=1)
LIVE_QUEUE_STATES = ("waiting", "claimed", "connected", "voicemail")
MAX_CHECKED = 500
# Only calls Twilio has given a SID: a call still being placed has none to ask about.
TWILIO_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")


async def reconcile_calls(runtime: Runtime) -> int:
    """Close every call Twilio has finished; returns how many were closed."""
    async with session_scope(runtime) as session:
        live = (
            await session.execute(
                sa.select(Call.id, Call.call_sid)
                .where(Call.ended_at.is_(None), Call.queue_state.in_(LIVE_QUEUE_STATES))
                .order_by(Call.id)
                .limit(MAX_CHECKED)
            )
        ).all()
    closed = 0
    for call_id, call_sid in live:
        if not TWILIO_CALL_SID.match(call_sid):
            continue
        try:
            status = await fetch_call_status(runtime, call_sid)
        except ProviderError as exc:
            log.warning("could not check a live call with Twilio", extra={"call_id": call_id, "error": str(exc)})
            continue
        if status not in FINAL_CALL_STATUSES and status is not None:
            continue
        closed += await close_finished_call(runtime, call_id, status or "completed", closed_by=EndedBy.system)
    await free_stranded_listeners(runtime)
    if closed:
        log.warning("closed calls that had ended without their callbacks", extra={"closed": closed})
    return closed


async def close_finished_call(runtime: Runtime, call_id: int, status: str, *, closed_by: EndedBy | None) -> int:
    async with session_scope(runtime) as session:
        call = await lock_call_by_id(session, call_id)
        if call is None:
            return 0
        if call.ended_at is not None:
            if closed_by is EndedBy.listener and call.ended_by == EndedBy.caller:
                # The caller's "completed" came in before this, but it was our own hang-up.
                call.ended_by = closed_by.value
            return 0
        call.status = status
        await end_call(session, call, closed_by=closed_by)
        return 1


async def free_listener(runtime: Runtime, call_id: int) -> None:
    async with session_scope(runtime) as session:
        call = await lock_call_by_id(session, call_id)
        if call is not None:
            await release_listener_from(session, call)


async def free_stranded_listeners(runtime: Runtime) -> None:
    """A listener held by a call that is over (whatever closed it) is freed into wrap-up."""
    async with session_scope(runtime) as session:
        stranded = (
            await session.execute(
                sa.select(ListenerPresence.user_id, ListenerPresence.current_call_id)
                .join(Call, Call.id == ListenerPresence.current_call_id)
                .where(Call.ended_at.is_not(None))
            )
        ).all()
        for user_id, call_id in stranded:
            await release_listener(session, user_id=user_id, call_id=call_id, status="wrap-up")


async def end_own_call(runtime: Runtime, *, listener_id: int) -> dict[str, object]:
    """The listener ends their call from the page, whatever Twilio told us or failed to: the
    caller's call is hung up (if Twilio still has it) and closed, and the listener is free. With a
    partner on the line (a live warm transfer) only the listener leaves: the caller stays with them.
    A caller who agreed to the keypad survey is not hung up on but moved to it, out of the conference
    (which ends with them, so the listener's leg goes too)."""
    async with session_scope(runtime) as session:
        presence = await session.get(ListenerPresence, listener_id)
        call = await session.get(Call, presence.current_call_id) if presence and presence.current_call_id else None
        if call is None:
            raise NotFound("you have no call to end", error="no_call")
        call_id, call_sid = call.id, call.call_sid
        partner_on = await someone_with_caller(session, call_id, besides=("listener",))
        survey = not partner_on and await keypad_survey_agreed(session, call_id)
    try:
        status = await fetch_call_status(runtime, call_sid) if TWILIO_CALL_SID.match(call_sid) else None
        if status is not None and status not in FINAL_CALL_STATUSES:
            if partner_on:
                await hold_in_conference(runtime, call, call_sid, hold=False)  # never left on hold music
                await remove_from_conference(runtime, call, LISTENER_LABEL)
                await free_listener(runtime, call_id)
                return {"call_id": call_id, "ended": False}
            if survey:
                await redirect_call(runtime, call_sid, url=webhook_url(runtime.settings, "survey"))
            else:
                await hang_up_call(runtime, call_sid)
    except ProviderError as exc:
        log.warning("could not end the call with Twilio", extra={"call_id": call_id, "error": str(exc)})
        raise ServiceUnavailable(
            "Twilio could not be reached to end the call; try again in a moment", error="provider_unavailable"
        ) from exc
    # Twilio had already finished the call (the caller hung up first): that end stands.
    closed_by = None if status in FINAL_CALL_STATUSES else EndedBy.listener
    await close_finished_call(runtime, call_id, "completed", closed_by=closed_by)
    await free_stranded_listeners(runtime)
    return {"call_id": call_id, "ended": True}
