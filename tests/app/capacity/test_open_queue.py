"""The partners' open queue at the end of each past week, counted back from the queue open now
through the ticket events since (never every ticket ever made), against a hand-counted history
on both databases: tickets made before the window and reached in it, declined, put on hold,
reached and then completed (two events leaving the open states, counted once), and long closed."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from app.core.db import session_scope
from tests.conftest import load_demo_directory
from tests.scenarios import service_id
from transfers.tickets.models import TicketEvent, TransferTicket


def _day(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


# (made, status now, [(event, to_status, at)]). The fake clock's now is Monday 23 Nov 2026 20:00,
# so the four weeks end at 2, 9, 16 and 23 November 20:00.
HISTORY = {
    "made before, reached in week 2": (_day(10, 1), "in-progress", [("accept", "accepted", _day(10, 2)),
                                                                     ("confirm_contact", "in-progress", _day(11, 5))]),
    "declined in week 3": (_day(10, 28), "rejected", [("reject", "rejected", _day(11, 12))]),
    "reached, then completed": (_day(10, 20), "completed", [("confirm_contact", "in-progress", _day(11, 3)),
                                                            ("complete", "completed", _day(11, 10))]),
    "on hold, still open": (_day(11, 3), "on-hold", [("accept", "accepted", _day(11, 4)),
                                                     ("attempt_failed", "on-hold", _day(11, 6))]),
    "requested in week 3": (_day(11, 10), "requested", []),
    "requested in week 4": (_day(11, 20), "requested", []),
    "closed long ago": (_day(9, 1), "completed", [("confirm_contact", "in-progress", _day(9, 10)),
                                                  ("complete", "completed", _day(9, 20))]),
}  # fmt: skip


async def test_the_open_queue_each_week_is_counted_back_from_now(harness):
    await load_demo_directory(harness)
    sam = await harness.add_user("sam", "listener")
    await harness.add_user("jo", "supervisor")
    money = await service_id(harness, "ca-money")
    async with session_scope(harness.runtime) as session:
        for made, status, events in HISTORY.values():
            ticket = TransferTicket(
                service_id=money,
                created_by=sam.id,
                status=status,
                needs=["money"],
                risk_level="low",
                consent_covers="needs",
                consent_recorded_at=made,
                consent_recorded_by=sam.id,
                accept_by=made,
                contact_by=made,
                created_at=made,
                updated_at=made,
            )
            session.add(ticket)
            await session.flush()
            session.add_all(
                TicketEvent(ticket_id=ticket.id, at=at, actor="partner", action=action, to_status=to)
                for action, to, at in events
            )
        assert await session.scalar(sa.select(sa.func.count()).select_from(TransferTicket)) == len(HISTORY)
    model = (await (await harness.signed_in("jo")).get("/api/capacity")).json()
    load = next(s for s in model["services"] if s["service_id"] == money)
    # Hand-counted. 2 Nov: made before and not yet reached, the one declined later, the one
    # reached on 3 Nov. 9 Nov: the declined one and the one on hold. 16 Nov: on hold and
    # requested on 10 Nov. 23 Nov: those two and the one requested on 20 Nov.
    assert load["open_by_week"] == [3, 2, 2, 3]
    assert load["open_now"] == 3
