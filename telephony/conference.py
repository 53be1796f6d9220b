"""Conference status callbacks: who joined or left the caller's conference, and when it ended.

Twilio numbers a conference's events (``SequenceNumber``, from 0) but sends each as its own
request, with no ordering guarantee: a listener's ``participant-leave`` can arrive before their
``participant-join``. Each event is stored as it arrives (``held``) and applied in sequence
order: an event waits for the ones before it, for at most ``GAP_SECONDS`` (a stored job then
applies what is held, in order, skipping what never came). An event older than the last one
applied is recorded as ``stale`` and never applied backwards; only the join of a leg not yet seen,
which cannot undo anything later about it, is still applied when it comes after the wait.

The listener joining is what answers a call. The caller leaving (or the conference ending) ends
it, whether or not the caller's own ``completed`` status callback ever arrives. Whenever the last
person with the caller leaves a connected call, the caller-left-alone rescue is scheduled.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.events import emit
from app.core.jobs import Job, schedule_job
from telephony import twiml
from telephony.calls import lock_call
from telephony.events import LEG_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT
from telephony.intake import Delivery, claim_delivery, record_outcome
from telephony.lifecycle import answer_call, end_call, note_caller_maybe_alone, release_listener_from
from telephony.models import Call, CallParticipant, WebhookDelivery

log = logging.getLogger("openline.telephony")

LISTENER_LABEL = "listener"
SUPERVISOR_LABEL_PREFIX = "supervisor-"
HELD, STALE = "held", "stale"
CONFERENCE_GAP_JOB = "telephony.conference_gap"
# How long an event waits for an earlier one still on its way before it is applied anyway.
GAP_SECONDS = 3
# A participant who never answered leaves with the call status saying so.
NEVER_ANSWERED = ("busy", "failed", "no-answer", "canceled")


def participant_role(call: Call, participant_sid: str | None, label: str) -> str:
    if participant_sid == call.call_sid:
        return "caller"
    if label == LISTENER_LABEL or (participant_sid is not None and participant_sid == call.listener_call_sid):
        return "listener"
    if label.startswith(SUPERVISOR_LABEL_PREFIX):
        return "supervisor"
    return "partner"


async def apply_conference_event(session: AsyncSession, delivery: Delivery) -> str:
    reply = twiml.empty()
    if (stored := await claim_delivery(session, delivery, reply=reply, outcome=HELD)) is not None:
        return stored
    form = delivery.form
    name, conference_sid = form.get("FriendlyName"), form.get("ConferenceSid")
    criteria = [Call.conference_name == name] if name else []
    if conference_sid:
        criteria.append(Call.conference_sid == conference_sid)
    call = await lock_call(session, sa.or_(*criteria))
    if call is None:
        log.warning("conference event for an unknown call", extra={"event": delivery.event})
        await record_outcome(session, delivery, "orphan")
        return reply
    if conference_sid and call.conference_sid is None:
        call.conference_sid = conference_sid
    await session.execute(
        sa.update(WebhookDelivery).where(WebhookDelivery.dedupe_key == delivery.dedupe_key).values(call_id=call.id)
    )
    await apply_held_events(session, call)
    return reply


async def apply_held_events(session: AsyncSession, call: Call, *, skip_gaps: bool = False) -> None:
    """Apply the call's held conference events in sequence order, as far as there is no gap (or
    past every gap, when their wait is over)."""
    held = list(
        (
            await session.scalars(
                sa.select(WebhookDelivery)
                .where(
                    WebhookDelivery.call_id == call.id,
                    WebhookDelivery.endpoint == "conference",
                    WebhookDelivery.outcome == HELD,
                )
                .order_by(WebhookDelivery.sequence, WebhookDelivery.id)
            )
        ).all()
    )
    waiting = None
    for row in held:
        sequence = row.sequence
        if sequence is not None and sequence <= call.conference_sequence:
            # Behind what is applied, but a join of a leg never seen cannot undo anything later
            # about it: a listener's join held back past the wait still answers the call.
            if row.event == "participant-join" and not await _seen(session, call, row.call_sid):
                delivery = Delivery("conference", row.call_sid, row.event, sequence, dict(row.fields))
                row.outcome = await _apply(session, call, delivery)
            else:
                row.outcome = STALE
            continue
        if sequence is not None and sequence != call.conference_sequence + 1 and not skip_gaps:
            waiting = sequence
            break
        if sequence is not None:
            call.conference_sequence = sequence
        delivery = Delivery("conference", row.call_sid, row.event, sequence, dict(row.fields))
        row.outcome = await _apply(session, call, delivery)
    if waiting is not None:
        run_at = runtime_of(session).clock.now() + timedelta(seconds=GAP_SECONDS)
        await schedule_job(
            session,
            kind=CONFERENCE_GAP_JOB,
            key=f"{CONFERENCE_GAP_JOB}:{call.id}:{waiting}",
            run_at=run_at,
            payload={"call_id": call.id},
        )


async def _seen(session: AsyncSession, call: Call, call_sid: str | None) -> bool:
    """Whether the call already has this leg as a participant (joined or left)."""
    if not call_sid:
        return True
    found = await session.scalar(
        sa.select(CallParticipant.id).where(CallParticipant.call_id == call.id, CallParticipant.call_sid == call_sid)
    )
    return found is not None


async def apply_events_after_gap(session: AsyncSession, job: Job) -> None:
    """The ``telephony.conference_gap`` job: an earlier event never came; apply what is held."""
    call = await lock_call(session, Call.id == job.payload["call_id"])
    if call is not None:
        await apply_held_events(session, call, skip_gaps=True)


async def _apply(session: AsyncSession, call: Call, delivery: Delivery) -> str:
    event = delivery.event
    if event == "participant-join":
        return await _participant_joined(session, call, delivery)
    if event == "participant-leave":
        return await _participant_left(session, call, delivery)
    if event in ("participant-hold", "participant-unhold"):
        await session.execute(
            sa.update(CallParticipant)
            .where(CallParticipant.call_id == call.id, CallParticipant.call_sid == delivery.call_sid)
            .values(on_hold=event == "participant-hold")
        )
        return "applied"
    if event == "conference-end":
        # The caller ends the conference on leaving; only a caller moved on to voicemail lives on.
        if call.queue_state in ("waiting", "claimed", "connected"):
            await end_call(session, call)
        return "applied"
    if event in (
        "conference-start",
        "participant-mute",
        "participant-unmute",
        "participant-modify",
        "participant-speech-start",
        "participant-speech-stop",
    ):
        return "applied"
    return "ignored"


async def _participant_joined(session: AsyncSession, call: Call, delivery: Delivery) -> str:
    label = delivery.form.get("ParticipantLabel", "")
    role = participant_role(call, delivery.call_sid, label)
    if call.ended_at is not None and role != "caller":
        # A join reported after the end (callbacks have no ordering guarantee) cannot answer it.
        return STALE
    now = runtime_of(session).clock.now()
    await _upsert_participant(session, call, delivery, role=role, joined_at=now)
    if role == "listener":
        await answer_call(session, call, listener_call_sid=delivery.call_sid)
    emit(
        session,
        PARTICIPANT_JOINED,
        call_id=call.id,
        call_sid=delivery.call_sid,
        label=label,
        role=role,
        direction=call.direction,
    )
    return "applied"


async def _participant_left(session: AsyncSession, call: Call, delivery: Delivery) -> str:
    label = delivery.form.get("ParticipantLabel", "")
    role = participant_role(call, delivery.call_sid, label)
    status = delivery.form.get("ParticipantCallStatus") or ""
    reason = delivery.form.get("ReasonParticipantLeft") or status or None
    await _upsert_participant(
        session, call, delivery, role=role, left_at=runtime_of(session).clock.now(), left_reason=reason and reason[:40]
    )
    if role == "caller":
        # A waiting caller who hangs up is known from here even if their status callback is lost.
        if call.queue_state in ("waiting", "claimed", "connected"):
            await end_call(session, call)
    elif role == "listener":
        # The listener is off the line (e.g. after handing over to a partner): their wrap-up begins.
        await release_listener_from(session, call)
    if role != "caller":
        await note_caller_maybe_alone(session, call)
    if status in NEVER_ANSWERED:
        emit(session, LEG_ENDED, call_id=call.id, call_sid=delivery.call_sid, label=label, status=status)
    emit(session, PARTICIPANT_LEFT, call_id=call.id, call_sid=delivery.call_sid, label=label, role=role)
    return "applied"


async def _upsert_participant(
    session: AsyncSession, call: Call, delivery: Delivery, *, role: str, **values: object
) -> None:
    if not delivery.call_sid:
        return
    row = await session.scalar(
        sa.select(CallParticipant).where(
            CallParticipant.call_id == call.id, CallParticipant.call_sid == delivery.call_sid
        )
    )
    if row is None:
        session.add(
            CallParticipant(
                call_id=call.id,
                call_sid=delivery.call_sid,
                role=role,
                label=(delivery.form.get("ParticipantLabel") or None),
                **values,
            )
        )
        await session.flush()
        return
    for name, value in values.items():
        setattr(row, name, value)
