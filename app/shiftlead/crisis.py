"""A crisis line dialled into the live call as a warm transfer.

The listener (from the call card) or a supervisor (from the board) dials one of this line's
crisis lines (``OPENLINE_CRISIS_LINES``) into the caller's conference. The caller stays with the
listener meanwhile (not on hold unless the listener asks: they may hold the caller while they
brief); once the crisis worker has joined and been briefed the listener hands over, leaving or
staying on. A line that is busy, fails or does not answer leaves the caller with the listener,
and the supervisors are told by an alert.

The Twilio steps are the live warm transfer's (``telephony/third_party.py`` serves both): every
Twilio request is an ``app.core.outbox`` call-out, the crisis leg reports on the partner leg's
status callback (``?leg=partner&call=..&label=crisis-<record>``) so busy, failed and no-answer
arrive as ``call.leg_ended``, and a ring timeout stops a line that rings on. Each step is audited and
written on the safeguarding record (who was dialled, by whom, when it joined or failed).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import runtime_of
from app.core.errors import Conflict, Unprocessable
from app.core.events import publish_live
from app.core.jobs import Job, cancel_job, schedule_job
from app.core.outbox import CallOut, call_out_after_commit, register_call_out
from app.core.runtime import Runtime
from app.core.security import User
from app.core.settings import Settings
from app.shiftlead.models import SafeguardingRecord, alerted_entry
from app.shiftlead.safeguarding import SAFEGUARDING_EVENT, describe_record, ensure_flag, own_record
from telephony.events import LEG_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT
from telephony.models import Call
from telephony.provider import retry_when_unavailable
from telephony.third_party import (
    dial_into_call,
    hand_over_call,
    labelled,
    not_connected_state,
    number_of_label,
    release_caller,
)

log = logging.getLogger("openline.shiftlead")

CRISIS_LABEL_PREFIX = "crisis-"
DIAL, HAND_OVER, RELEASE = "crisis.dial", "crisis.handover", "crisis.release"
RING_TIMEOUT = "crisis.ring_timeout"
IN_PROGRESS = ("ringing", "joined")


def crisis_label(record_id: int) -> str:
    return labelled(CRISIS_LABEL_PREFIX, record_id)


def record_of_label(label: str | None) -> int | None:
    return number_of_label(CRISIS_LABEL_PREFIX, label)


def list_crisis_lines(settings: Settings) -> list[dict[str, Any]]:
    """Pure: the line's crisis lines, numbered from 1 in the order configured."""
    return [{"id": n, "name": line.name, "number": line.number} for n, line in enumerate(settings.crisis_lines, 1)]


def _ring_key(record: SafeguardingRecord) -> str:
    # One per dial: a timeout left over from an earlier attempt can never stop a later one.
    return f"{RING_TIMEOUT}:{record.id}:{record.crisis_dialled_at.isoformat()}"


async def dial_crisis_line(
    session: AsyncSession, *, call: Call, user: User, line_id: int, hold_caller: bool
) -> dict[str, Any]:
    """Flag immediate risk if nobody has yet, then dial the crisis line after this commits."""
    lines = {line["id"]: line for line in list_crisis_lines(runtime_of(session).settings)}
    if line_id not in lines:
        raise Unprocessable(
            "line_id",
            "no such crisis line on this helpline" if lines else "no crisis line is configured (OPENLINE_CRISIS_LINES)",
        )
    if call.queue_state != "connected" or call.ended_at is not None or not call.conference_name:
        raise Conflict("that call has ended", error="call_gone")
    record = await ensure_flag(session, call=call, user=user)
    record = await session.get(SafeguardingRecord, record.id, with_for_update=True, populate_existing=True)
    if record.crisis_state in IN_PROGRESS:
        raise Conflict(f"{record.crisis_line} is already on the line or ringing", error="crisis_line_in_progress")
    line, now = lines[line_id], runtime_of(session).clock.now()
    record.crisis_line, record.crisis_number, record.crisis_state = line["name"], line["number"], "ringing"
    record.crisis_dialled_by, record.crisis_dialled_at = user.display_name, now
    record.crisis_joined_at = record.crisis_ended_at = record.crisis_call_sid = None
    record.alerted = [*record.alerted, alerted_entry(line["name"], now)]
    record.updated_at = now
    await record_audit(
        session,
        actor=f"user:{user.username}",
        action="dial_crisis_line",
        subject_type="safeguarding_record",
        subject_id=record.id,
        call_id=call.id,
        line=line["name"],
        hold_caller=hold_caller,
    )
    ring = runtime_of(session).settings.crisis_ring_seconds
    await schedule_job(
        session,
        kind=RING_TIMEOUT,
        key=_ring_key(record),
        run_at=now + timedelta(seconds=ring),
        payload={"record_id": record.id, "dialled_at": now.isoformat()},
    )
    call_out_after_commit(session, DIAL, record_id=record.id, hold=hold_caller)
    await _announce(session, record)
    return describe_record(session, record)


async def hand_over_to_crisis_line(session: AsyncSession, *, record_id: int, user: User, stay: bool) -> dict[str, Any]:
    """The crisis worker is briefed: the caller off hold, and the listener leaves (or stays on)."""
    record = await own_record(session, record_id, user, lock=True)
    if record.crisis_state != "joined":
        raise Conflict("the crisis worker has not joined the call yet", error="crisis_not_joined")
    record.crisis_state, record.updated_at = "handed-over", runtime_of(session).clock.now()
    await record_audit(
        session,
        actor=f"user:{user.username}",
        action="hand_over_to_crisis_line",
        subject_type="safeguarding_record",
        subject_id=record.id,
        line=record.crisis_line,
        listener_stays=stay,
    )
    call_out_after_commit(session, HAND_OVER, record_id=record.id, stay=stay)
    await _announce(session, record)
    return describe_record(session, record)


async def _announce(session: AsyncSession, record: SafeguardingRecord) -> None:
    data = {
        "id": record.id,
        "call_id": record.call_id,
        "state": "crisis",
        "crisis_line": record.crisis_line,
        "crisis_state": record.crisis_state,
    }
    await publish_live(session, "role:supervisor", SAFEGUARDING_EVENT, data)
    if record.listener_id is not None:
        await publish_live(session, f"user:{record.listener_id}", SAFEGUARDING_EVENT, data)


# The call-outs: each reads the record and the call fresh, and sends nothing once the call is over.


async def _with_call(
    session: AsyncSession, payload: dict[str, Any], *, state: str | None = None
) -> dict[str, Any] | None:
    record = await session.get(SafeguardingRecord, payload["record_id"], populate_existing=True)
    if record is None or record.call_id is None or (state and record.crisis_state != state):
        return None
    call = await session.get(Call, record.call_id, populate_existing=True)
    if call is None or call.conference_name is None or call.ended_at is not None:
        return None
    return payload | {"call": call, "number": record.crisis_number, "leg": record.crisis_call_sid}


async def _prepare_dial(session: AsyncSession, payload: dict[str, Any]) -> dict[str, Any] | None:
    request = await _with_call(session, payload, state="ringing")
    # Dialled already (a crash before the record): never ring the crisis line twice.
    return request if request is not None and request["leg"] is None else None


async def _dial(runtime: Runtime, payload: dict[str, Any]) -> str:
    return await dial_into_call(
        runtime,
        payload["call"],
        number=payload["number"],
        label=crisis_label(payload["record_id"]),
        ring_seconds=runtime.settings.crisis_ring_seconds,
        hold_caller=bool(payload.get("hold")),
    )


async def _dialled(session: AsyncSession, payload: dict[str, Any], leg: str) -> None:
    await session.execute(
        sa.update(SafeguardingRecord).where(SafeguardingRecord.id == payload["record_id"]).values(crisis_call_sid=leg)
    )


async def _dial_refused(session: AsyncSession, payload: dict[str, Any], exc: Exception) -> None:
    log.warning("crisis line could not be dialled", extra={"record_id": payload["record_id"], "error": str(exc)})
    await crisis_line_not_connected(session, payload["record_id"], "failed")


async def crisis_line_not_connected(
    session: AsyncSession, record_id: int | None, state: str, *, hang_up: str | None = None
) -> bool:
    """Busy, failed or no answer: the caller stays with the listener (off hold, if held), a
    line still ringing is stopped, and the supervisors' board alerts. Once only."""
    now = runtime_of(session).clock.now()
    moved = await session.execute(
        sa.update(SafeguardingRecord)
        .where(SafeguardingRecord.id == record_id, SafeguardingRecord.crisis_state == "ringing")
        .values(crisis_state=state, crisis_ended_at=now, updated_at=now)
    )
    if not moved.rowcount:
        return False
    record = await session.get(SafeguardingRecord, record_id, populate_existing=True)
    await cancel_job(session, _ring_key(record))
    await record_audit(
        session,
        actor="telephony",
        action="crisis_line_not_connected",
        subject_type="safeguarding_record",
        subject_id=record.id,
        line=record.crisis_line,
        state=state,
    )
    call_out_after_commit(session, RELEASE, record_id=record.id, hang_up=hang_up)
    await _announce(session, record)
    return True


async def _release_caller(runtime: Runtime, payload: dict[str, Any]) -> None:
    await release_caller(runtime, payload["call"], ringing_leg=payload.get("hang_up"))


async def _hand_over(runtime: Runtime, payload: dict[str, Any]) -> None:
    await hand_over_call(runtime, payload["call"], listener_stays=bool(payload.get("stay")))


async def _step_failed(session: AsyncSession, payload: dict[str, Any], exc: Exception) -> None:
    log.warning("crisis line step refused", extra={"record_id": payload["record_id"], "error": str(exc)})


# What Twilio reports about the crisis leg


async def end_ringing(session: AsyncSession, job: Job) -> None:
    record = await session.get(SafeguardingRecord, job.payload["record_id"])
    if (
        record is None
        or record.crisis_dialled_at is None
        or record.crisis_dialled_at.isoformat() != job.payload["dialled_at"]
    ):
        return
    await crisis_line_not_connected(session, record.id, "no-answer", hang_up=record.crisis_call_sid)


async def crisis_leg_ended(session: AsyncSession, job: Job) -> None:
    state = not_connected_state(job.payload["status"])
    await crisis_line_not_connected(session, record_of_label(job.payload.get("label")), state)


async def crisis_worker_joined(session: AsyncSession, job: Job) -> None:
    record_id, now = record_of_label(job.payload.get("label")), runtime_of(session).clock.now()
    moved = await session.execute(
        sa.update(SafeguardingRecord)
        .where(SafeguardingRecord.id == record_id, SafeguardingRecord.crisis_state == "ringing")
        .values(
            crisis_state="joined",
            crisis_joined_at=now,
            updated_at=now,
            crisis_call_sid=sa.func.coalesce(SafeguardingRecord.crisis_call_sid, job.payload.get("call_sid")),
        )
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:
        return
    record = await session.get(SafeguardingRecord, record_id, populate_existing=True)
    await cancel_job(session, _ring_key(record))
    await record_audit(
        session,
        actor="telephony",
        action="crisis_line_joined",
        subject_type="safeguarding_record",
        subject_id=record.id,
        line=record.crisis_line,
    )
    await _announce(session, record)


async def crisis_worker_left(session: AsyncSession, job: Job) -> None:
    record_id, now = record_of_label(job.payload.get("label")), runtime_of(session).clock.now()
    moved = await session.execute(
        sa.update(SafeguardingRecord)
        .where(
            SafeguardingRecord.id == record_id,
            SafeguardingRecord.crisis_state.in_(("joined", "handed-over")),
            SafeguardingRecord.crisis_ended_at.is_(None),
        )
        .values(crisis_ended_at=now, updated_at=now)
    )
    if moved.rowcount:
        record = await session.get(SafeguardingRecord, record_id, populate_existing=True)
        await record_audit(
            session,
            actor="telephony",
            action="crisis_line_left",
            subject_type="safeguarding_record",
            subject_id=record.id,
            line=record.crisis_line,
        )
        await _announce(session, record)


def _crisis_label(payload: dict[str, Any]) -> bool:
    return record_of_label(payload.get("label")) is not None


def register(runtime: Runtime) -> None:
    runtime.jobs.register(RING_TIMEOUT, end_ringing)
    retry = retry_when_unavailable
    register_call_out(
        runtime,
        DIAL,
        CallOut(
            prepare=_prepare_dial,
            send=retry(_dial),
            done=_dialled,
            refused=_dial_refused,
            retry_base_seconds=2,
            give_up_after=timedelta(seconds=runtime.settings.crisis_ring_seconds),
        ),
    )
    register_call_out(
        runtime,
        RELEASE,
        CallOut(prepare=_with_call, send=retry(_release_caller), refused=_step_failed, retry_base_seconds=1),
    )
    register_call_out(
        runtime,
        HAND_OVER,
        CallOut(prepare=_with_call, send=retry(_hand_over), refused=_step_failed, retry_base_seconds=1),
    )
    runtime.jobs.follow(PARTICIPANT_JOINED, "crisis.joined", crisis_worker_joined, when=_crisis_label)
    runtime.jobs.follow(LEG_ENDED, "crisis.leg_ended", crisis_leg_ended, when=_crisis_label)
    runtime.jobs.follow(PARTICIPANT_LEFT, "crisis.left", crisis_worker_left, when=_crisis_label)
