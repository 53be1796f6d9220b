"""The board's figures as SQL aggregates over bounded, indexed windows: tonight's calls (the last
12 hours of ``calls.created_at``), the staffing this hour needs (the last four weeks), and the
handover times (warm transfers made in the last four weeks, and the open queue). One row or a
few hundred come back, never the calls or tickets themselves, so the board answers as fast with
a year of a national line behind it as on its first night."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.capacity.demand import seconds_between
from app.reports import dialect as sql
from telephony.models import Call
from transfers.tickets.models import TransferTicket
from transfers.tickets.stats import LONGEST_ACCEPTABLE_WAIT, WaitTotals

TONIGHT = timedelta(hours=12)
STAFFING_WINDOW = timedelta(days=28)
# The board's handover times are the last four weeks' warm transfers: how the partners are doing
# now (a year-old ticket says nothing about tonight), and a window the index bounds.
HANDOVER_WINDOW = timedelta(weeks=4)


def _count_when(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


async def count_tonight(session: AsyncSession, now: datetime, within_seconds: int) -> dict[str, int | float | None]:
    """Callers ringing in over the last 12 hours: offered, answered, abandoned, answered within
    the target, the waits of those answered (sum and count) and the longest wait of any."""
    answered = Call.answered_at.is_not(None)
    answered_wait = sa.case((answered, Call.wait_seconds))
    row = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.count(Call.answered_at),
                _count_when(Call.abandoned),
                _count_when(sa.and_(answered, Call.wait_seconds <= within_seconds)),
                sa.func.sum(answered_wait),
                sa.func.count(answered_wait),
                sa.func.max(Call.wait_seconds),
            ).where(Call.created_at >= now - TONIGHT, Call.direction == "inbound")
        )
    ).one()
    offered, n_answered, abandoned, within, wait_sum, wait_count, longest = row
    return {
        "offered": offered,
        "answered": n_answered,
        "abandoned": int(abandoned),
        "answered_within_target": int(within),
        "waited_seconds": float(wait_sum or 0),
        "waits": wait_count,
        "longest_wait_seconds": longest,
    }


async def count_staffing(session: AsyncSession, now: datetime) -> tuple[int, int, float]:
    """Over the last four weeks of callers ringing in (ring-backs are the line's own calls, not
    demand): those who rang in this UTC hour of the day, and the handle times (count, sum)."""
    dialect = session.get_bind().dialect.name
    hour = sql.utc_hour(dialect, Call.created_at).label("hour")
    was_handled = sa.and_(Call.answered_at.is_not(None), Call.ended_at.is_not(None))
    rows = await session.execute(
        sa.select(
            hour,
            sa.func.count(),
            sa.func.count(sa.case((was_handled, 1))),
            sa.func.sum(sa.case((was_handled, seconds_between(session, Call.answered_at, Call.ended_at)))),
        )
        .where(Call.created_at >= now - STAFFING_WINDOW, Call.direction == "inbound")
        .group_by(hour)
    )
    same_hour = n_handled = 0
    handled_seconds = 0.0
    for text, calls, n, seconds in rows.all():
        if sql.read_utc_hour(text).hour == now.hour:
            same_hour += calls
        n_handled += n
        handled_seconds += float(seconds or 0)
    return same_hour, n_handled, handled_seconds


async def _wait_totals(session: AsyncSession, reached: sa.ColumnElement, since: datetime) -> WaitTotals:
    """Count, sum and median of the seconds from a ticket's making to ``reached``. The median is
    the middle one or two of the window's waits in order: exact, and the same on both databases."""
    wait = seconds_between(session, TransferTicket.created_at, reached)
    where = (TransferTicket.created_at >= since, reached.is_not(None))
    count, total = (await session.execute(sa.select(sa.func.count(), sa.func.sum(wait)).where(*where))).one()
    if not count:
        return WaitTotals(0, 0.0, None)
    middle = [
        float(v)
        for v in await session.scalars(
            sa.select(wait).where(*where).order_by(wait).offset((count - 1) // 2).limit(2 - count % 2)
        )
    ]
    return WaitTotals(count, float(total), sum(middle) / len(middle))


async def measure_handover_waits(
    session: AsyncSession, now: datetime, open_states: tuple[str, ...]
) -> tuple[WaitTotals, WaitTotals, timedelta | None, int]:
    """Time to accept and to handover over the last four weeks' warm transfers; the longest wait
    in the open queue and how many there are past four weeks (the open queue has no window: a
    caller still waiting is counted however long ago they were handed over)."""
    since = now - HANDOVER_WINDOW
    to_accept = await _wait_totals(session, TransferTicket.accepted_at, since)
    to_contact = await _wait_totals(session, TransferTicket.handover_at, since)
    oldest, past = (
        await session.execute(
            sa.select(
                sa.func.min(TransferTicket.created_at),
                _count_when(TransferTicket.created_at < now - LONGEST_ACCEPTABLE_WAIT),
            ).where(TransferTicket.status.in_(open_states))
        )
    ).one()
    return to_accept, to_contact, (now - oldest) if oldest is not None else None, int(past)
