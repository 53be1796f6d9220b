"""The board's alerts: what needs a supervisor now, each acknowledged by a named supervisor.

An alert is a condition, not a stored message: the longest wait past its target, a session past
its due time by ``overrun_alert_minutes``, an immediate-risk flag not yet closed, a listener's
call for help on a live call, a partner notification gone dead. Each has a stable key, so an
acknowledgement (stored, audited) sticks to it and a condition that clears takes its alert away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.board.people import list_listeners, list_waiting
from app.core.audit import record_audit
from app.core.db import insert_ignore, runtime_of
from app.core.errors import NotFound
from app.core.events import publish_live
from app.core.jobs import Job, schedule_job
from app.core.runtime import Runtime
from app.core.security import User
from app.shiftlead.models import AlertAcknowledgement, HelpRequest, SafeguardingRecord
from telephony.events import CALL_ENDED, CALL_WAITING
from telephony.models import Call
from transfers.tickets.models import PartnerNotification

ALERT_EVENT = "alert"
# Timed alerts: a stored job per wait and per session, due the moment the wait passes its target or
# the session overruns by the set minutes, so the board hears of it then, not at its next refresh.
WAIT_ALERT_JOB = "shiftlead.wait_alert"
OVERRUN_ALERT_JOB = "shiftlead.overrun_alert"


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    text: str
    since: datetime
    call_id: int | None = None
    listener_id: int | None = None


CRISIS_NOT_CONNECTED = {"busy": "was busy", "failed": "could not be dialled", "no-answer": "did not answer"}


def find_alerts(
    *,
    now: datetime,
    listeners: list[dict[str, Any]],
    waiting: list[dict[str, Any]],
    risks: list[tuple],
    helps: list[tuple[int, int, int, datetime, str]],
    dead: list[tuple[int, datetime]],
    wait_target_seconds: int,
    overrun_minutes: int,
) -> list[Alert]:
    """Pure: the alerts the board's picture calls for, most serious first."""
    alerts = [
        Alert(
            f"crisis-line:{rid}",
            "immediate-risk",
            f"{line} {CRISIS_NOT_CONNECTED[state]} on {name}'s call: the caller is still with {name}",
            ended or at,
            call_id,
            lid,
        )
        for rid, call_id, lid, at, name, line, state, ended in risks
        if state in CRISIS_NOT_CONNECTED
    ]
    alerts += [
        Alert(f"immediate-risk:{rid}", "immediate-risk", f"Immediate risk on {name}'s call", at, call_id, lid)
        for rid, call_id, lid, at, name, *_ in risks
    ]
    alerts += [
        Alert(f"help:{hid}", "help", f"{name} asks for help", at, call_id, lid) for hid, call_id, lid, at, name in helps
    ]
    callers = [w for w in waiting if w["kind"] == "caller" and (w["wait_seconds"] or 0) >= wait_target_seconds]
    if callers:
        longest = max(callers, key=lambda w: w["wait_seconds"])
        alerts.append(
            Alert(
                f"long-wait:{longest['id']}",
                "long-wait",
                f"A caller has waited over {wait_target_seconds // 60 or 1} min ({len(callers)} past the target)",
                datetime.fromisoformat(longest["since"]),
                longest["id"],
            )
        )
    for person in listeners:
        support = person["session"]
        if support and support["overrun_seconds"] >= overrun_minutes * 60 and support["overrun_seconds"] > 0:
            alerts.append(
                Alert(
                    f"overrun:{support['id']}",
                    "overrun",
                    f"{person['name']}'s session is {support['overrun_seconds'] // 60} min over",
                    datetime.fromisoformat(support["due_at"]),
                    (person["call"] or {}).get("id"),
                    person["id"],
                )
            )
    alerts += [
        Alert(f"notification-dead:{nid}", "notification-dead", "A partner notification could not be delivered", at)
        for nid, at in dead
    ]
    return alerts


async def _alert_inputs(session: AsyncSession) -> dict[str, Any]:
    risks = (
        await session.execute(
            sa.select(
                SafeguardingRecord.id,
                SafeguardingRecord.call_id,
                SafeguardingRecord.listener_id,
                SafeguardingRecord.flagged_at,
                sa.func.coalesce(User.display_name, "a listener"),
                SafeguardingRecord.crisis_line,
                SafeguardingRecord.crisis_state,
                SafeguardingRecord.crisis_ended_at,
            )
            .outerjoin(User, User.id == SafeguardingRecord.listener_id)
            .where(SafeguardingRecord.closed_at.is_(None))
            .order_by(SafeguardingRecord.flagged_at)
        )
    ).all()
    helps = (
        await session.execute(
            sa.select(
                HelpRequest.id, HelpRequest.call_id, HelpRequest.listener_id, HelpRequest.raised_at, User.display_name
            )
            .join(User, User.id == HelpRequest.listener_id)
            .join(Call, Call.id == HelpRequest.call_id)
            .where(Call.queue_state == "connected")
            .order_by(HelpRequest.raised_at)
        )
    ).all()
    dead = (
        await session.execute(
            sa.select(PartnerNotification.id, PartnerNotification.created_at)
            .where(PartnerNotification.status == "dead")
            .order_by(PartnerNotification.id)
        )
    ).all()
    return {"risks": [tuple(r) for r in risks], "helps": [tuple(h) for h in helps], "dead": [tuple(d) for d in dead]}


async def describe_alerts(
    session: AsyncSession, *, now: datetime, listeners: list[dict[str, Any]], waiting: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    settings = runtime_of(session).settings
    alerts = find_alerts(
        now=now,
        listeners=listeners,
        waiting=waiting,
        **await _alert_inputs(session),
        wait_target_seconds=settings.wait_target_seconds,
        overrun_minutes=settings.overrun_alert_minutes,
    )
    acks = (
        {
            key: (name, at)
            for key, name, at in (
                await session.execute(
                    sa.select(AlertAcknowledgement.alert_key, User.display_name, AlertAcknowledgement.acknowledged_at)
                    .join(User, User.id == AlertAcknowledgement.acknowledged_by)
                    .where(AlertAcknowledgement.alert_key.in_([a.key for a in alerts]))
                )
            ).all()
        }
        if alerts
        else {}
    )
    return [
        {
            "key": a.key,
            "kind": a.kind,
            "text": a.text,
            "since": a.since.isoformat(),
            "call_id": a.call_id,
            "listener_id": a.listener_id,
            "acknowledged_by": acks.get(a.key, (None,))[0],
            "acknowledged_at": acks[a.key][1].isoformat() if a.key in acks else None,
        }
        for a in alerts
    ]


async def acknowledge_alert(session: AsyncSession, *, key: str, user: User) -> dict[str, Any]:
    """A supervisor takes the alert on. The first acknowledgement stands; a second is a no-op."""
    now = runtime_of(session).clock.now()
    current = {a["key"]: a for a in await _current(session, now)}
    if key not in current:
        raise NotFound("that alert is no longer showing", error="alert_gone")
    kind = current[key]["kind"]
    created = await insert_ignore(
        session,
        AlertAcknowledgement,
        dict(alert_key=key, kind=kind, acknowledged_by=user.id, acknowledged_at=now),
        ["alert_key"],
    )
    if created:
        await record_audit(
            session,
            actor=f"user:{user.username}",
            action="acknowledge_alert",
            subject_type="alert",
            subject_id=await session.scalar(
                sa.select(AlertAcknowledgement.id).where(AlertAcknowledgement.alert_key == key)
            ),
            key=key,
            kind=kind,
            call_id=current[key]["call_id"],
        )
        await publish_live(session, "role:supervisor", ALERT_EVENT, {"key": key, "acknowledged_by": user.display_name})
    ack = await session.scalar(sa.select(AlertAcknowledgement).where(AlertAcknowledgement.alert_key == key))
    by = await session.get(User, ack.acknowledged_by)
    return {"key": key, "acknowledged_by": by.display_name, "acknowledged_at": ack.acknowledged_at.isoformat()}


async def _current(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    return await describe_alerts(
        session, now=now, listeners=await list_listeners(session, now), waiting=await list_waiting(session, now)
    )


def overrun_alert_key(session_id: int) -> str:
    return f"{OVERRUN_ALERT_JOB}:{session_id}"


async def schedule_overrun_alert(session: AsyncSession, *, session_id: int, due_at: datetime) -> None:
    """When a session starts: its overrun alert, due ``overrun_alert_minutes`` past its due time
    (cancelled when the session ends; a no-op if it has ended anyway)."""
    minutes = runtime_of(session).settings.overrun_alert_minutes
    run_at = due_at + (timedelta(minutes=minutes) if minutes else timedelta(seconds=1))
    await schedule_job(
        session,
        kind=OVERRUN_ALERT_JOB,
        key=overrun_alert_key(session_id),
        run_at=run_at,
        payload={"session_id": session_id},
    )


def _wait_alert_key_prefix(call_id: int) -> str:
    """The start of every long-wait alert's key for this call (one per wait): the call's end
    cancels them all by it."""
    return f"{WAIT_ALERT_JOB}:{call_id}:"


def _plan_wait_alert(runtime: Runtime, payload: dict[str, Any]) -> tuple[str, datetime, dict[str, Any]] | None:
    """``call.waiting``: the long-wait alert is due when this caller reaches the target."""
    if not payload.get("waiting_since"):
        return None
    waiting_since = datetime.fromisoformat(payload["waiting_since"])
    run_at = waiting_since + timedelta(seconds=runtime.settings.wait_target_seconds)
    call_id = payload["call_id"]
    return _wait_alert_key_prefix(call_id) + waiting_since.isoformat(), run_at, {"call_id": call_id}


async def _schedule_wait_alert(session: AsyncSession, job: Job) -> None:
    """Follows ``call.waiting``: the long-wait alert is due when this caller reaches the target."""
    call = await session.get(Call, job.payload["call_id"])
    if call is None or call.waiting_since is None:
        return
    run_at = call.waiting_since + timedelta(seconds=runtime_of(session).settings.wait_target_seconds)
    await schedule_job(
        session,
        kind=WAIT_ALERT_JOB,
        key=_wait_alert_key_prefix(call.id) + call.waiting_since.isoformat(),
        run_at=run_at,
        payload={"call_id": call.id},
    )


async def _raise_if_showing(session: AsyncSession, key: str) -> None:
    """Publish the alert to the board if the picture now calls for it (the caller answered, the
    session ended, or a longer wait already alerted: nothing)."""
    now = runtime_of(session).clock.now()
    alert = next((a for a in await _current(session, now) if a["key"] == key), None)
    if alert is not None:
        await publish_live(
            session, "role:supervisor", ALERT_EVENT, {"key": key, "kind": alert["kind"], "text": alert["text"]}
        )


async def _raise_wait_alert(session: AsyncSession, job: Job) -> None:
    call = await session.get(Call, job.payload["call_id"])
    if call is not None and call.queue_state == "waiting":
        await _raise_if_showing(session, f"long-wait:{call.id}")


async def _raise_overrun_alert(session: AsyncSession, job: Job) -> None:
    await _raise_if_showing(session, f"overrun:{job.payload['session_id']}")


def register(runtime: Runtime) -> None:
    # Planned in the webhook's own transaction: a waiting caller's alert is one row, no follow-on job.
    runtime.jobs.schedule_on(CALL_WAITING, WAIT_ALERT_JOB, _raise_wait_alert, _plan_wait_alert)
    # A caller whose call has ended is waiting no more: their alerts go with it.
    runtime.jobs.cancel_on(CALL_ENDED, lambda payload: _wait_alert_key_prefix(payload["call_id"]))
    # Jobs of the older, follow-on kind may still be stored from before an upgrade.
    runtime.jobs.register("shiftlead.schedule_wait_alert", _schedule_wait_alert)
    runtime.jobs.register(OVERRUN_ALERT_JOB, _raise_overrun_alert)
