"""What a supervisor needs to see at a glance: the line now, sessions running over, callers at
immediate risk, warm transfers that breached their targets, and tonight's service level."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.board.figures import STAFFING_WINDOW, count_staffing, count_tonight, measure_handover_waits
from app.board.people import list_listeners, list_open_transfers, list_waiting
from app.capacity.erlang import listeners_needed
from app.core.db import runtime_of
from app.core.jobs import DEAD, Job
from app.core.security import User
from app.helpline.models import CallLog, CallLogRevision, SupportSession
from app.shiftlead.alerts import describe_alerts
from telephony.models import Call, CallbackRequest, ListenerPresence
from transfers.tickets.follow_ups import list_open_follow_ups
from transfers.tickets.models import FollowUp, PartnerNotification, TransferTicket
from transfers.tickets.stats import describe_handovers

OPEN_TICKET_STATES = ("requested", "accepted", "on-hold")
# NHS 111's published standard: 95% of calls answered within 60 seconds.
ANSWER_WITHIN_SECONDS = 60
TARGET_SERVICE_LEVEL = 0.95


@dataclass(frozen=True)
class Figures:
    offered: int
    answered: int
    abandoned: int
    answered_within_target: int
    average_speed_of_answer_seconds: float | None
    longest_wait_seconds: int | None

    @property
    def service_level(self) -> float | None:
        return self.answered_within_target / self.offered if self.offered else None


def figures_from_counts(counts: dict[str, Any]) -> Figures:
    """Pure: tonight's figures from what the database counted (``figures.count_tonight``)."""
    waits = counts["waits"]
    return Figures(
        offered=counts["offered"],
        answered=counts["answered"],
        abandoned=counts["abandoned"],
        answered_within_target=counts["answered_within_target"],
        average_speed_of_answer_seconds=round(counts["waited_seconds"] / waits, 1) if waits else None,
        longest_wait_seconds=counts["longest_wait_seconds"],
    )


def summarise_calls(calls: list[Call]) -> Figures:
    """Pure: tonight's figures from the calls in hand (abandoned calls count against the level);
    the definition ``count_tonight`` is tested against."""
    answered = [c for c in calls if c.answered_at is not None]
    waits = [c.wait_seconds for c in answered if c.wait_seconds is not None]
    all_waits = [c.wait_seconds for c in calls if c.wait_seconds is not None]
    return Figures(
        offered=len(calls),
        answered=len(answered),
        abandoned=sum(1 for c in calls if c.abandoned),
        answered_within_target=sum(1 for w in waits if w <= ANSWER_WITHIN_SECONDS),
        average_speed_of_answer_seconds=round(sum(waits) / len(waits), 1) if waits else None,
        longest_wait_seconds=max(all_waits) if all_waits else None,
    )


async def _line_now(session: AsyncSession, now: datetime) -> dict[str, Any]:
    waiting = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.min(Call.waiting_since)).where(Call.queue_state == "waiting")
        )
    ).one()
    presence = dict(
        (
            await session.execute(sa.select(ListenerPresence.status, sa.func.count()).group_by(ListenerPresence.status))
        ).all()
    )
    callbacks = await session.scalar(sa.select(sa.func.count()).where(CallbackRequest.status == "open"))
    return {
        "waiting": waiting[0],
        "longest_waiting_since": waiting[1].isoformat() if waiting[1] else None,
        "listeners": presence,
        "open_callbacks": callbacks,
    }


async def _sessions_now(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            sa.select(SupportSession, User.display_name)
            .join(User, User.id == SupportSession.listener_id)
            .where(SupportSession.ended_at.is_(None))
            .order_by(SupportSession.due_at)
        )
    ).all()
    return [
        {
            "id": s.id,
            "listener": name,
            "started_at": s.started_at.isoformat(),
            "due_at": s.due_at.isoformat(),
            "overrunning": now >= s.due_at,
            "overrun_seconds": max(0, int((now - s.due_at).total_seconds())),
        }
        for s, name in rows
    ]


async def _risk_flags(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    since = now - timedelta(hours=12)
    rows = (
        await session.execute(
            sa.select(CallLog, CallLogRevision.title, User.display_name)
            .join(
                CallLogRevision,
                sa.and_(
                    CallLogRevision.call_log_id == CallLog.id, CallLogRevision.revision == CallLog.current_revision
                ),
            )
            .join(User, User.id == CallLog.created_by)
            .where(CallLog.risk_flagged_at >= since)
            .order_by(CallLog.risk_flagged_at.desc())
        )
    ).all()
    return [
        {
            "log_id": log.id,
            "session_id": log.session_id,
            "title": title,
            "listener": name,
            "flagged_at": log.risk_flagged_at.isoformat(),
        }
        for log, title, name in rows
    ]


async def _transfers(session: AsyncSession, now: datetime) -> dict[str, Any]:
    by_status = dict(
        (await session.execute(sa.select(TransferTicket.status, sa.func.count()).group_by(TransferTicket.status))).all()
    )
    breached = (
        await session.scalars(
            sa.select(TransferTicket)
            .where(
                TransferTicket.status.in_(OPEN_TICKET_STATES),
                sa.or_(TransferTicket.accept_breached_at.is_not(None), TransferTicket.contact_breached_at.is_not(None)),
            )
            .order_by(TransferTicket.accept_by)
        )
    ).all()
    dead = await session.scalar(sa.select(sa.func.count()).where(PartnerNotification.status == "dead"))
    dead_jobs = await session.scalar(sa.select(sa.func.count()).where(Job.status == DEAD))
    follow_ups = await session.scalar(sa.select(sa.func.count()).where(FollowUp.resolved_at.is_(None)))
    waits = describe_handovers(*await measure_handover_waits(session, now, OPEN_TICKET_STATES))
    return {
        "by_status": by_status,
        "waits": waits,
        "dead_notifications": dead,
        "dead_jobs": dead_jobs,
        "open_follow_ups": follow_ups,
        "breached": [
            {
                "id": t.id,
                "status": t.status,
                "urgent": t.urgent,
                "accept_by": t.accept_by.isoformat(),
                "contact_by": t.contact_by.isoformat(),
            }
            for t in breached
        ],
    }


async def _staffing(session: AsyncSession, now: datetime) -> dict[str, Any]:
    """Listeners this hour needs, from the same hour over the last four weeks."""
    same_hour, n_handled, handled_seconds = await count_staffing(session, now)
    calls_per_hour = same_hour / (STAFFING_WINDOW / timedelta(days=1))
    handle_seconds = handled_seconds / n_handled if n_handled else 20 * 60
    staffing, rota = listeners_needed(calls_per_hour, handle_seconds, ANSWER_WITHIN_SECONDS, 0.8, shrinkage=0.3)
    return {
        "calls_per_hour": round(calls_per_hour, 2),
        "handle_minutes": round(handle_seconds / 60, 1),
        "listeners_needed": staffing.listeners,
        "rota_with_shrinkage": rota,
    }


async def describe_board(session: AsyncSession) -> dict[str, Any]:
    now = runtime_of(session).clock.now()
    figures = figures_from_counts(await count_tonight(session, now, ANSWER_WITHIN_SECONDS))
    listeners, waiting = await list_listeners(session, now), await list_waiting(session, now)
    return {
        "now": now.isoformat(),
        "alerts": await describe_alerts(session, now=now, listeners=listeners, waiting=waiting),
        "listeners": listeners,
        "waiting": waiting,
        "open_transfers": await list_open_transfers(session, now),
        "line": await _line_now(session, now),
        "sessions": await _sessions_now(session, now),
        "risk": await _risk_flags(session, now),
        "transfers": await _transfers(session, now),
        "follow_ups": await list_open_follow_ups(session),
        "tonight": asdict(figures)
        | {
            "service_level": figures.service_level,
            "target": f"{int(TARGET_SERVICE_LEVEL * 100)}% within {ANSWER_WITHIN_SECONDS} s",
        },
        "staffing": await _staffing(session, now),
    }
