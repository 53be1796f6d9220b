"""Conference status callbacks: who joined or left the caller's conference, and when it ended.

The listener joining is what answers a call; the conference ending (while connected) is one of
the two ways a call ends, the caller's ``completed`` status callback being the other.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events import emit
from telephony import twiml
from telephony.calls import lock_call
from telephony.events import PARTICIPANT_JOINED, PARTICIPANT_LEFT
from telephony.intake import Delivery, claim_delivery, record_outcome
from telephony.lifecycle import answer_call, end_call, note_listener_left
from telephony.models import Call
from telephony.presence import release_listener

log = logging.getLogger("openline.telephony")

LISTENER_LABEL = "listener"


def participant_role(call: Call, participant_sid: str | None, label: str) -> str:
    if participant_sid == call.call_sid:
        return "caller"
    if label == LISTENER_LABEL or (participant_sid is not None and participant_sid == call.listener_call_sid):
        return "listener"
    return "partner"


async def apply_conference_event(session: AsyncSession, delivery: Delivery) -> str:
    reply = twiml.empty()
    if (stored := await claim_delivery(session, delivery, reply=reply)) is not None:
        return stored
    form = delivery.form
    name, conference_sid = form.get("FriendlyName"), form.get("ConferenceSid")
    criteria = [Call.conference_name == name] if name else []
    if conference_sid:
        criteria.append(Call.conference_sid == conference_sid)
    call = await lock_call(session, sa.or_(*criteria))
    if call is None:
        log.warning("conference event for an unknown call", extra={"event": delivery.event})
        outcome = "orphan"
    else:
        if conference_sid and call.conference_sid is None:
            call.conference_sid = conference_sid
        outcome = await _apply(session, call, delivery)
    if outcome != "applied":
        await record_outcome(session, delivery, outcome)
    return reply


async def _apply(session: AsyncSession, call: Call, delivery: Delivery) -> str:
    event = delivery.event
    if event == "participant-join":
        return await _participant_joined(session, call, delivery)
    if event == "participant-leave":
        return await _participant_left(session, call, delivery)
    if event == "conference-end":
        # While waiting the caller leaves the conference only by hanging up (their status
        # callback ends the call) or by being moved to voicemail, which must not end it.
        if call.queue_state in ("claimed", "connected"):
            await end_call(session, call)
        return "applied"
    if event in ("conference-start", "participant-hold", "participant-unhold", "participant-mute",
                 "participant-unmute", "participant-modify", "participant-speech-start", "participant-speech-stop"):
        return "applied"
    return "ignored"


async def _participant_joined(session: AsyncSession, call: Call, delivery: Delivery) -> str:
    label = delivery.form.get("ParticipantLabel", "")
    role = participant_role(call, delivery.call_sid, label)
    if call.ended_at is not None and role != "caller":
        # A join reported after the end (callbacks have no ordering guarantee) cannot answer it.
        return "stale"
    if role == "listener":
        await answer_call(session, call, listener_call_sid=delivery.call_sid)
    elif role == "partner":
        call.others_on_line += 1
    emit(session, PARTICIPANT_JOINED, call_id=call.id, call_sid=delivery.call_sid, label=label, role=role)
    return "applied"


async def _participant_left(session: AsyncSession, call: Call, delivery: Delivery) -> str:
    label = delivery.form.get("ParticipantLabel", "")
    role = participant_role(call, delivery.call_sid, label)
    if role == "listener" and call.listener_id is not None and call.queue_state != "claimed":
        # The listener is off the line (e.g. after handing over to a partner): their wrap-up begins.
        await release_listener(session, user_id=call.listener_id, call_id=call.id, status="wrap-up")
    if role == "listener":
        await note_listener_left(session, call)
    elif role == "partner":
        call.others_on_line = max(0, call.others_on_line - 1)
    emit(session, PARTICIPANT_LEFT, call_id=call.id, call_sid=delivery.call_sid, label=label, role=role)
    return "applied"
