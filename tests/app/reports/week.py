"""A hand-counted week of the line, written through the models (the figures in each test are
counted by hand from what is here), and the people who read the reports."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.db import session_scope
from app.helpline.models import CallLog, CallLogRevision, SupportSession
from telephony.models import Call, CallerSurvey
from transfers.tickets.models import TransferTicket

# The report asked for: Monday 16/11/2026 to Sunday 22/11/2026 (GMT, so local time is UTC).
WEEK = {"from": "16/11/2026", "to": "22/11/2026"}
WEDNESDAY = datetime(2026, 11, 18, tzinfo=UTC)
PREVIOUS_WEDNESDAY = datetime(2026, 11, 11, tzinfo=UTC)
_sids = itertools.count(1)


def call(
    at: datetime,
    *,
    wait: int,
    answered: bool = False,
    abandoned: bool = False,
    caller: str | None = None,
    direction: str = "inbound",
) -> Call:
    sid = next(_sids)
    return Call(
        call_sid=f"CA{sid:032d}",
        direction=direction,
        status="completed",
        from_hash=caller,
        from_withheld=caller is None,
        queue_state="ended",
        waiting_since=at,
        answered_at=at + timedelta(seconds=wait) if answered else None,
        ended_at=at + timedelta(seconds=wait + 600),
        wait_seconds=wait,
        abandoned=abandoned,
        created_at=at,
        updated_at=at,
    )


def calls() -> list[Call]:
    at = WEDNESDAY + timedelta(hours=20)
    late = WEDNESDAY + timedelta(hours=21)
    return [
        # Wednesday 20:00-21:00: five answered, waiting 5, 15, 25, 50 and 90 s.
        call(at, wait=5, answered=True, caller="A"),
        call(at + timedelta(minutes=10), wait=15, answered=True, caller="A"),
        call(at + timedelta(minutes=20), wait=25, answered=True, caller="B"),
        call(at + timedelta(minutes=30), wait=50, answered=True, caller="C"),
        call(at + timedelta(minutes=40), wait=90, answered=True),
        # Wednesday 21:00-22:00: four hung up while waiting, after 10, 30, 40 and 120 s.
        call(late, wait=10, abandoned=True, caller="A"),
        call(late + timedelta(minutes=5), wait=30, abandoned=True, caller="B"),
        call(late + timedelta(minutes=10), wait=40, abandoned=True, caller="D"),
        call(late + timedelta(minutes=15), wait=120, abandoned=True),
        # Thursday 03:00: reached voicemail (neither answered nor abandoned).
        call(WEDNESDAY + timedelta(hours=27), wait=300, caller="E"),
        # Not offered: the line ringing someone back; and outside the range either side.
        call(at, wait=0, answered=True, caller="A", direction="outbound-api"),
        call(datetime(2026, 11, 23, 0, 30, tzinfo=UTC), wait=5, answered=True, caller="A"),
        call(datetime(2026, 11, 8, 23, 59, tzinfo=UTC), wait=5, answered=True, caller="A"),
        # The period before: two answered, after 10 and 70 s, by the same caller.
        call(PREVIOUS_WEDNESDAY + timedelta(hours=20), wait=10, answered=True, caller="A"),
        call(PREVIOUS_WEDNESDAY + timedelta(hours=21), wait=70, answered=True, caller="A"),
    ]


def revision(log: CallLog, number: int, user_id: int, **answers: Any) -> CallLogRevision:
    return CallLogRevision(
        call_log_id=log.id,
        revision=number,
        consent_to_share=False,
        title="Call",
        created_at=log.created_at,
        created_by=user_id,
        **answers,
    )


async def add_week(harness: Any, *, listener_id: int, services: tuple[int, int]) -> None:
    async with session_scope(harness.runtime) as session:
        session.add_all(calls())
        start = WEDNESDAY + timedelta(hours=20)
        sessions = []
        for minutes in (10, 20, 30):
            ended = start + timedelta(minutes=minutes)
            sessions.append(
                SupportSession(
                    listener_id=listener_id,
                    started_at=start,
                    warning_at=start + timedelta(minutes=25),
                    due_at=start + timedelta(minutes=30),
                    ended_at=ended,
                    wrap_up_until=ended + timedelta(minutes=2),
                )
            )
        running = SupportSession(
            listener_id=listener_id, started_at=start, warning_at=start, due_at=start + timedelta(minutes=30)
        )
        session.add_all([*sessions, running])
        await session.flush()
        logs = [
            CallLog(session_id=s.id, created_at=start, created_by=listener_id, current_revision=1) for s in sessions
        ]
        logs[0].current_revision = 2
        session.add_all(logs)
        await session.flush()
        session.add_all(
            [
                # The first log was corrected: only its second revision counts.
                revision(
                    logs[0],
                    1,
                    listener_id,
                    contact_type="support",
                    needs=["money", "housing"],
                    risk_level="low",
                    outcome="supported",
                ),
                revision(
                    logs[0],
                    2,
                    listener_id,
                    contact_type="support",
                    needs=["money"],
                    risk_level="moderate",
                    outcome="warm-transfer",
                ),
                revision(
                    logs[1],
                    1,
                    listener_id,
                    contact_type="support",
                    needs=["housing", "loneliness"],
                    risk_level="none",
                    outcome="supported",
                ),
                revision(
                    logs[2], 1, listener_id, contact_type="silent", needs=[], risk_level="none", outcome="caller-ended"
                ),
            ]
        )
        money, befriending = services
        made = WEDNESDAY + timedelta(hours=20)
        session.add_all(
            [
                # Accepted after 2 h (its target is 24), reached after 50 h (target 72).
                ticket(money, listener_id, made, status="in-progress", accepted=2, reached=50),
                # Accepted after 30 h: past its 24-hour target; not reached yet.
                ticket(money, listener_id, made + timedelta(hours=1), status="accepted", accepted=30),
                ticket(befriending, listener_id, made + timedelta(hours=14), status="requested"),
            ]
        )
        session.add_all(surveys(listener_id))


def survey(at: datetime, way: str, state: str, helped: int | None = None, safer: bool | None = None, **kw: Any):
    return CallerSurvey(way=way, state=state, consented_at=at, helped=helped, safer=safer, **kw)


def surveys(listener_id: int) -> list[CallerSurvey]:
    """What callers said: this week five agreed (four answered: three by keypad, one by text), one
    said no; the week before, one answered by keypad."""
    evening = WEDNESDAY + timedelta(hours=21)
    return [
        survey(evening, "keypad", "answered", 5, True, consented_by=listener_id),
        survey(evening, "keypad", "answered", 4, True),
        survey(evening, "keypad", "answered", 4, None),  # hung up after the first question
        survey(evening, "text", "answered", 2, False),
        survey(evening, "text", "asked", number_hash="f" * 64),  # no reply yet
        survey(evening, "declined", "declined"),
        survey(PREVIOUS_WEDNESDAY + timedelta(hours=21), "keypad", "answered", 3, True),
    ]


def ticket(
    service_id: int,
    user_id: int,
    made: datetime,
    *,
    status: str,
    accepted: float | None = None,
    reached: float | None = None,
) -> TransferTicket:
    return TransferTicket(
        service_id=service_id,
        created_by=user_id,
        status=status,
        needs=["money"],
        risk_level="low",
        consent_covers="needs",
        consent_recorded_at=made,
        consent_recorded_by=user_id,
        accept_by=made + timedelta(hours=24),
        contact_by=made + timedelta(hours=72),
        accepted_at=made + timedelta(hours=accepted) if accepted is not None else None,
        handover_at=made + timedelta(hours=reached) if reached is not None else None,
        created_at=made,
        updated_at=made,
    )
