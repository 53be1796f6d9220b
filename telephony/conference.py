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
import sys
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import dialect_name, insert_of, runtime_of
from app.core.events import emit
from app.core.jobs import Job, schedule_job
from telephony import twiml
from telephony.call_states import NEVER_ANSWERED, status_advances
from telephony.calls import lock_call, lock_call_in_conference
from telephony.events import LEG_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT
from telephony.intake import Delivery, claim_delivery, record_outcome
from telephony.lifecycle import answer_call, end_call, note_caller_maybe_alone, release_listener_from
from telephony.models import Call, CallParticipant
from telephony.statements import HELD, HELD_EVENTS, PARTICIPANTS, SETTLE_HELD, TIE_ARRIVED

log = logging.getLogger("openline.telephony")

LISTENER_LABEL = "listener"
SUPERVISOR_LABEL_PREFIX = "supervisor-"
STALE = "stale"
CONFERENCE_GAP_JOB = "telephony.conference_gap"
# How long an event waits for an earlier one still on its way before it is applied anyway.
GAP_SECONDS = 3


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
    call = await lock_call_in_conference(session, form.get("FriendlyName"), form.get("ConferenceSid"))
    if call is None:
        log.warning("conference event for an unknown call", extra={"event": delivery.event})
        await record_outcome(session, delivery, "orphan")
        return reply
    await apply_held_events(session, call, arrived=delivery)
    return reply


@dataclass
class _Held:
    """A held conference event: a stored row (``row_id``) or the one that has just arrived."""

    row_id: int | None
    delivery: Delivery
    outcome: str = HELD

    @property
    def order(self) -> tuple[bool, int, int]:
        sequence = self.delivery.sequence
        return (sequence is not None, sequence or 0, self.row_id or sys.maxsize)


async def apply_held_events(
    session: AsyncSession, call: Call, *, skip_gaps: bool = False, arrived: Delivery | None = None
) -> None:
    """Apply the call's held conference events in sequence order, as far as there is no gap (or
    past every gap, when their wait is over). ``arrived`` is the event just stored, not yet tied to
    the call: it is applied from memory (the common case, the next in sequence with nothing else
    held, reads no stored event back) and tied to the call with its outcome in one UPDATE."""
    rows = await session.execute(HELD_EVENTS, {"call_id": call.id})
    held = [
        _Held(row.id, Delivery("conference", row.call_sid, row.event, row.sequence, dict(row.fields))) for row in rows
    ]
    if arrived is not None:
        held.append(_Held(None, arrived))
        if (conference_sid := arrived.form.get("ConferenceSid")) and call.conference_sid is None:
            # Set after the read above, so that it is written with the sequence, in one UPDATE.
            call.conference_sid = conference_sid
    held.sort(key=lambda h: h.order)
    waiting = None
    for item in held:
        delivery, sequence = item.delivery, item.delivery.sequence
        if sequence is not None and sequence <= call.conference_sequence:
            # Behind what is applied, but a join of a leg never seen cannot undo anything later
            # about it: a listener's join held back past the wait still answers the call.
            if delivery.event == "participant-join" and not await _seen(session, call, delivery.call_sid):
                item.outcome = await _apply(session, call, delivery)
            else:
                item.outcome = STALE
            continue
        if sequence is not None and sequence != call.conference_sequence + 1 and not skip_gaps:
            waiting = sequence
            break
        if sequence is not None:
            call.conference_sequence = sequence
        item.outcome = await _apply(session, call, delivery)
    settled = [{"row_id": h.row_id, "outcome": h.outcome} for h in held if h.row_id is not None and h.outcome != HELD]
    if settled:
        await session.execute(SETTLE_HELD, settled)
    if arrived is not None:
        outcome = next(h.outcome for h in held if h.row_id is None)
        await session.execute(TIE_ARRIVED, {"key": arrived.dedupe_key, "call_id": call.id, "outcome": outcome})
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
    if role == "caller" and status_advances(call.status, call.status_sequence, "in-progress", None):
        # Twilio reports a call to the line only when it ends: the caller joining their
        # conference is how we learn it was answered. Set before the upsert below flushes the
        # call, so it is written with the sequence, in one UPDATE.
        call.status = "in-progress"
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
    """One statement: the leg's row is made on its first event (with its role and label) and
    updated by later ones; it is never loaded into the session, so nothing in a batch goes stale."""
    if not delivery.call_sid:
        return
    stmt = _participant_upsert(dialect_name(session), tuple(sorted(values)))
    label = delivery.form.get("ParticipantLabel") or None
    await session.execute(
        stmt, {"call_id": call.id, "call_sid": delivery.call_sid, "role": role, "label": label} | values
    )


@cache
def _participant_upsert(dialect: str, columns: tuple[str, ...]) -> sa.Insert:
    stmt = insert_of(dialect)(PARTICIPANTS)
    return stmt.on_conflict_do_update(
        index_elements=["call_id", "call_sid"], set_={name: stmt.excluded[name] for name in columns}
    )
