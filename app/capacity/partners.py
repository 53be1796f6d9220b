"""The partners' side of capacity: per service, warm transfers arriving against those accepted
and completed, the open queue over time, the expected wait for a new ticket (Little's law), and
the pinch points. SQL aggregates grouped by service, never every ticket."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.capacity.demand import HourTotals, seconds_between
from transfers.directory.models import Locality, NeedCategory, Service
from transfers.hours import DAY_NAMES, is_open, parse_schedule
from transfers.tickets.models import TicketEvent, TransferTicket
from transfers.tickets.states import OPEN_STATES

OPEN = sorted(str(s) for s in OPEN_STATES)
# A queue is beyond its service when it grows this much faster than it is worked through.
GROWING = 1.10
LONGEST_WAITING_LOCALITIES = 5


@dataclass
class ServiceLoad:
    service_id: int
    name: str
    status: str
    needs: list[str]
    capacity: int | None
    arriving_per_week: float = 0.0
    accepted_per_week: float = 0.0
    completed_per_week: float = 0.0
    open_now: int = 0
    open_by_week: list[int] = field(default_factory=list)
    paused: bool = False
    # The partner's own figures (transfers/availability.py): places now and the waiting-list band.
    places: int | None = None
    waiting_list: str | None = None

    @property
    def expected_wait_days(self) -> float | None:
        """Little's law, W = L / λ: the open queue over the rate tickets arrive."""
        per_day = self.arriving_per_week / 7
        return round(self.open_now / per_day, 1) if per_day else None

    @property
    def beyond_capacity_because(self) -> list[str]:
        """Why the service is beyond its capacity, in words: by its queue, or by its partner's word."""
        because = []
        if self.capacity is not None and self.open_now >= self.capacity:
            because.append("queue at its maximum")
        if self.arriving_per_week > 0 and self.arriving_per_week > GROWING * self.completed_per_week and self.open_now:
            because.append("arriving faster than completed")
        if self.places == 0:
            because.append("no places, says the partner")
        if self.waiting_list == "over-4-weeks":
            because.append("waiting list longer than 4 weeks")
        return because

    @property
    def beyond_capacity(self) -> bool:
        return bool(self.beyond_capacity_because)


def _left_by(moment: datetime) -> sa.ColumnElement[bool]:
    """The ticket had left the open states (reached, declined, given up, cancelled) by then."""
    earlier = aliased(TicketEvent)
    return (
        sa.select(earlier.id)
        .where(earlier.ticket_id == TransferTicket.id, earlier.at <= moment, earlier.to_status.not_in(OPEN))
        .correlate(TransferTicket)
        .exists()
    )


async def _open_at(session: AsyncSession, moment: datetime, now: datetime, open_now: dict[int, int]) -> dict[int, int]:
    """Tickets open at ``moment`` (made by then, not yet left the open states), counted back from
    the queue open now, so only what happened since ``moment`` is read, never every ticket ever
    made: open now, less those made since and open now, plus those made by then that first left
    the open states since. The same count as asking each ticket, because a ticket that leaves
    the open states never returns to them (the state table) and its status is moved with the event."""
    made_since = dict(
        (
            await session.execute(
                sa.select(TransferTicket.service_id, sa.func.count())
                .where(TransferTicket.created_at > moment, TransferTicket.status.in_(OPEN))
                .group_by(TransferTicket.service_id)
            )
        ).all()
    )
    left_since = dict(
        (
            await session.execute(
                sa.select(TransferTicket.service_id, sa.func.count(sa.distinct(TransferTicket.id)))
                .join(TicketEvent, TicketEvent.ticket_id == TransferTicket.id)
                .where(
                    TicketEvent.at > moment,
                    TicketEvent.at <= now,
                    TicketEvent.to_status.not_in(OPEN),
                    TransferTicket.created_at <= moment,
                    ~_left_by(moment),
                )
                .group_by(TransferTicket.service_id)
            )
        ).all()
    )
    services = set(open_now) | set(left_since)
    counts = {s: open_now.get(s, 0) - made_since.get(s, 0) + left_since.get(s, 0) for s in services}
    return {s: n for s, n in counts.items() if n}


async def _counts_by_service(session: AsyncSession, column: sa.ColumnElement, start: datetime, end: datetime) -> dict:
    rows = await session.execute(
        sa.select(TransferTicket.service_id, sa.func.count())
        .where(column >= start, column < end)
        .group_by(TransferTicket.service_id)
    )
    return dict(rows.all())


async def measure_services(
    session: AsyncSession, *, start: datetime, end: datetime, now: datetime
) -> list[ServiceLoad]:
    weeks = (end - start) / timedelta(weeks=1)
    services = (await session.scalars(sa.select(Service).order_by(Service.name))).all()
    arriving = await _counts_by_service(session, TransferTicket.created_at, start, end)
    accepted = await _counts_by_service(session, TransferTicket.accepted_at, start, end)
    completed = await _counts_by_service(session, TransferTicket.completed_at, start, end)
    open_now = dict(
        (
            await session.execute(
                sa.select(TransferTicket.service_id, sa.func.count())
                .where(TransferTicket.status.in_(OPEN))
                .group_by(TransferTicket.service_id)
            )
        ).all()
    )
    snapshots = []
    moment = start + timedelta(weeks=1)
    while moment <= end:
        snapshots.append(await _open_at(session, moment, now, open_now))
        moment += timedelta(weeks=1)
    return [
        ServiceLoad(
            service_id=s.id,
            name=s.name,
            status=s.status,
            needs=list(s.needs),
            capacity=s.capacity,
            arriving_per_week=round(arriving.get(s.id, 0) / weeks, 2),
            accepted_per_week=round(accepted.get(s.id, 0) / weeks, 2),
            completed_per_week=round(completed.get(s.id, 0) / weeks, 2),
            open_now=open_now.get(s.id, 0),
            open_by_week=[snap.get(s.id, 0) for snap in snapshots],
            places=s.spaces,
            waiting_list=s.waiting_list,
        )
        for s in services
    ]


async def measure_locality_waits(session: AsyncSession, *, start: datetime, end: datetime) -> list[dict]:
    """Localities whose warm transfers wait longest for the handover (still waiting: until now)."""
    waited = seconds_between(session, TransferTicket.created_at, sa.func.coalesce(TransferTicket.handover_at, end))
    locality = sa.func.coalesce(TransferTicket.locality, "unknown").label("locality")
    rows = await session.execute(
        sa.select(locality, sa.func.count(), sa.func.avg(waited))
        .where(TransferTicket.created_at >= start, TransferTicket.created_at < end)
        .group_by(locality)
        .order_by(sa.func.avg(waited).desc())
        .limit(LONGEST_WAITING_LOCALITIES)
    )
    # People read the locality's name ("South Somerset"), never its slug.
    names = dict((await session.execute(sa.select(Locality.slug, Locality.name))).all())
    return [
        {
            "locality": names.get(slug, "not known" if slug == "unknown" else slug),
            "tickets": n,
            "mean_wait_days": round(float(w) / 86400, 2),
        }
        for slug, n, w in rows
    ]


async def list_need_slugs(session: AsyncSession) -> list[tuple[str, str]]:
    return list(
        (
            await session.execute(sa.select(NeedCategory.slug, NeedCategory.label).order_by(NeedCategory.sort_order))
        ).all()
    )


async def load_schedules(session: AsyncSession) -> dict[int, tuple]:
    rows = await session.execute(sa.select(Service.id, Service.schedule, Service.timezone))
    return {sid: (parse_schedule(schedule or []), tz) for sid, schedule, tz in rows}


def find_unserved_hours(
    needs: list[tuple[str, str]],
    services: list[ServiceLoad],
    schedules: dict[int, tuple],
    week: list[HourTotals],
    sample_week_start: datetime,
) -> list[dict]:
    """Pure: needs with no open service in hours when callers ring. ``sample_week_start`` is a
    Monday 00:00 in the line's time; each hour is tested at its half past."""
    pinches = []
    for slug, label in needs:
        offering = [s for s in services if slug in s.needs and s.status == "active" and not s.paused]
        closed = []
        for index, hour in enumerate(week):
            if not hour.offered:
                continue
            at = sample_week_start + timedelta(hours=index, minutes=30)
            if not any(is_open(*schedules[s.service_id], at) for s in offering):
                closed.append(f"{DAY_NAMES[index // 24].capitalize()} {index % 24:02d}:00")
        if closed:
            pinches.append({"need": slug, "label": label, "services": len(offering), "hours": closed})
    return pinches


def reroute_paused(services: list[ServiceLoad], paused: set[int]) -> list[dict]:
    """Pure: where a paused service's weekly tickets would go: the other services meeting the same
    needs, shared out evenly (or nowhere: a need nobody else meets)."""
    moves = []
    for gone in (s for s in services if s.service_id in paused):
        gone.paused = True
        for need in gone.needs:
            others = [s for s in services if need in s.needs and s.service_id not in paused and s.status == "active"]
            share = gone.arriving_per_week / max(len(gone.needs), 1)
            moves.append(
                {"from_service": gone.name, "need": need, "per_week": round(share, 2), "to": [s.name for s in others]}
            )
            for other in others:
                other.arriving_per_week = round(other.arriving_per_week + share / len(others), 2)
        gone.arriving_per_week = 0.0
    return moves
