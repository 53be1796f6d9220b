"""A hand-counted month for the capacity model (the fake clock's now: Monday 23 Nov 2026 20:00
UTC; the four weeks before it are all GMT, so the line's hours are UTC hours)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.core.db import session_scope
from app.helpline.models import SupportSession
from telephony.models import Call, PresenceChange
from transfers.directory.models import Service
from transfers.tickets.models import TicketEvent, TransferTicket

MONDAYS_8PM = [datetime(2026, 10, 26, 20, tzinfo=UTC) + timedelta(weeks=w) for w in range(4)]
MONDAY_8PM = 20  # Monday 20:00-21:00 as an hour of the week


def call(sid: str, at: datetime, *, waited: int, abandoned: bool = False, direction: str = "inbound") -> Call:
    return Call(
        call_sid=sid,
        direction=direction,
        status="completed",
        created_at=at,
        updated_at=at,
        waiting_since=at,
        queue_state="ended",
        answered_at=None if abandoned else at + timedelta(seconds=waited),
        ended_at=at + timedelta(seconds=waited + 60),
        wait_seconds=waited,
        abandoned=abandoned,
    )


def session_for(listener_id: int, start: datetime, *, minutes: int, wrap_up: int = 120) -> SupportSession:
    ended = start + timedelta(minutes=minutes)
    return SupportSession(
        listener_id=listener_id,
        started_at=start,
        warning_at=start + timedelta(minutes=25),
        due_at=start + timedelta(minutes=30),
        ended_at=ended,
        wrap_up_until=ended + timedelta(seconds=wrap_up),
    )


async def record_a_month(harness, ana_id: int, ben_id: int) -> None:
    """Each Monday 20:xx: three calls (one gives up after 120 s, two answered after 30 s), two
    sessions of 20 minutes plus 2 of wrap-up. Ana is on all month; Ben only 20:05-20:50 Mondays."""
    rows: list = [
        # Outside the window, and an outbound call: neither counts.
        call("CAold", datetime(2026, 10, 19, 20, 10, tzinfo=UTC), waited=30),
        call("CAout", MONDAYS_8PM[0] + timedelta(minutes=40), waited=0, direction="outbound-api"),
        PresenceChange(user_id=ana_id, status="available", at=datetime(2026, 10, 20, 9, tzinfo=UTC)),
    ]
    for week, eight in enumerate(MONDAYS_8PM):
        rows += [
            call(f"CA{week}a", eight + timedelta(minutes=5), waited=30),
            call(f"CA{week}b", eight + timedelta(minutes=15), waited=30),
            call(f"CA{week}c", eight + timedelta(minutes=25), waited=120, abandoned=True),
            session_for(ana_id, eight + timedelta(minutes=5, seconds=30), minutes=20),
            session_for(ben_id, eight + timedelta(minutes=15, seconds=30), minutes=20),
            PresenceChange(user_id=ben_id, status="available", at=eight + timedelta(minutes=5)),
            # Ana on and off a call: still on the line throughout.
            PresenceChange(user_id=ana_id, status="on-call", at=eight + timedelta(minutes=5, seconds=30)),
            PresenceChange(user_id=ana_id, status="available", at=eight + timedelta(minutes=27, seconds=30)),
            PresenceChange(user_id=ben_id, status="offline", at=eight + timedelta(minutes=50)),
        ]
    async with session_scope(harness.runtime) as session:
        session.add_all(rows)


async def record_transfers(harness, creator_id: int, slug: str) -> int:
    """Four warm transfers to one service in the month: one completed, one accepted, two still
    requested; and one from before the month that is still open. Localities: two each."""
    async with session_scope(harness.runtime) as session:
        service_id = await session.scalar(sa.select(Service.id).where(Service.slug == slug))
        made = datetime(2026, 11, 2, 12, tzinfo=UTC)
        plans = [
            (made, "completed", "somerset-west-taunton"),
            (made + timedelta(days=7), "accepted", "somerset-west-taunton"),
            (made + timedelta(days=14), "requested", "south-somerset"),
            (made + timedelta(days=15), "requested", "south-somerset"),
            (datetime(2026, 10, 10, tzinfo=UTC), "requested", "mendip"),
        ]
        for at, status, locality in plans:
            ticket = TransferTicket(
                service_id=service_id,
                created_by=creator_id,
                status=status,
                needs=["money"],
                risk_level="low",
                locality=locality,
                consent_covers="all",
                consent_recorded_at=at,
                consent_recorded_by=creator_id,
                accept_by=at + timedelta(days=1),
                contact_by=at + timedelta(days=3),
                accepted_at=at + timedelta(days=1) if status in ("accepted", "completed") else None,
                handover_at=at + timedelta(days=2) if status == "completed" else None,
                completed_at=at + timedelta(days=3) if status == "completed" else None,
                created_at=at,
                updated_at=at,
            )
            session.add(ticket)
            await session.flush()
            if status == "completed":
                session.add(
                    TicketEvent(
                        ticket_id=ticket.id,
                        at=at + timedelta(days=2),
                        actor="partner",
                        action="confirm_contact",
                        from_status="accepted",
                        to_status="in-progress",
                    )
                )
    return service_id
