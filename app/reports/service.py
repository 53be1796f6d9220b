"""The report's figures, each one SQL aggregate over the bounded, indexed date range (GROUP BY in
the database; at most a histogram or an hour-by-hour count comes back, never the rows)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.helpline.models import CONTACT_TYPES, OUTCOMES, RISK_LEVELS, CallLog, CallLogRevision, SupportSession
from app.reports import dialect as sql
from app.reports.figures import Figure, Spread, rounded, share, spread
from app.reports.periods import LINE_ZONE, Period
from telephony.models import Call
from transfers.directory.models import Organisation, Service
from transfers.tickets.models import TransferTicket
from transfers.tickets.states import HELPED, NOT_HELPED

INBOUND = "inbound"
# The alliance's own figures: three days on average from first contact to a partner's support,
# and nobody waiting beyond four weeks.
ALLIANCE_MEAN_HOURS = 72.0
ALLIANCE_LONGEST_HOURS = 24.0 * 28
WITHIN_SECONDS = (20, 60)
FOUR_WEEKS = timedelta(weeks=4)
OPEN_STATES = ("requested", "accepted", "in-progress", "on-hold")


@dataclass(frozen=True)
class CallFigures:
    offered: int
    answered: int
    abandoned: int
    within: dict[int, int]
    answer_wait: Spread
    abandon_wait: Spread
    handle: Spread
    wrap_up: Spread


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _in(column, period: Period):
    return sa.and_(column >= period.start, column < period.end)


async def _histogram(session: AsyncSession, value, *where) -> Spread:
    rows = await session.execute(sa.select(value, sa.func.count()).where(*where).group_by(value))
    return spread(rows.all())


async def measure_calls(session: AsyncSession, period: Period) -> CallFigures:
    offered = sa.and_(Call.direction == INBOUND, _in(Call.created_at, period))
    answered = Call.answered_at.is_not(None)
    counts = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.count(Call.answered_at),
                sa.func.coalesce(sa.func.sum(sa.case((Call.abandoned, 1), else_=0)), 0),
                *(
                    sa.func.coalesce(sa.func.sum(sa.case((sa.and_(answered, Call.wait_seconds <= s), 1), else_=0)), 0)
                    for s in WITHIN_SECONDS
                ),
            ).where(offered)
        )
    ).one()
    dialect = _dialect(session)
    ran = sa.and_(_in(SupportSession.started_at, period), SupportSession.ended_at.is_not(None))
    handle = sql.seconds_between(dialect, SupportSession.ended_at, SupportSession.started_at)
    wrap_up = sql.seconds_between(dialect, SupportSession.wrap_up_until, SupportSession.ended_at)
    return CallFigures(
        offered=counts[0],
        answered=counts[1],
        abandoned=int(counts[2]),
        within={s: int(n) for s, n in zip(WITHIN_SECONDS, counts[3:], strict=True)},
        answer_wait=await _histogram(session, Call.wait_seconds, offered, answered),
        abandon_wait=await _histogram(session, Call.wait_seconds, offered, Call.abandoned),
        handle=await _histogram(session, handle, ran),
        wrap_up=await _histogram(session, wrap_up, ran, SupportSession.wrap_up_until.is_not(None)),
    )


def _minutes(seconds: float | None) -> float | None:
    return rounded(seconds / 60 if seconds is not None else None)


def call_rows(figures: CallFigures) -> list[tuple[str, str, Figure]]:
    """(figure, unit, value) in the order people read them."""
    f = figures
    n_answered, n_abandoned = f.answer_wait.count, f.abandon_wait.count
    return [
        ("Calls offered", "calls", Figure.count(f.offered)),
        ("Answered", "calls", Figure.count(f.answered)),
        ("Abandoned (hung up while waiting)", "calls", Figure.count(f.abandoned)),
        ("Answer rate", "%", share(f.answered, f.offered)),
        ("Answered within 20 s", "%", share(f.within[20], f.offered)),
        ("Answered within 60 s", "%", share(f.within[60], f.offered)),
        ("Average speed of answer", "s", Figure(rounded(f.answer_wait.mean), n_answered)),
        ("Longest wait before an answer", "s", Figure(f.answer_wait.longest, n_answered)),
        ("Wait before hanging up: median", "s", Figure(f.abandon_wait.median, n_abandoned)),
        ("Wait before hanging up: 90th percentile", "s", Figure(f.abandon_wait.p90, n_abandoned)),
        ("Handle time: mean", "min", Figure(_minutes(f.handle.mean), f.handle.count)),
        ("Handle time: median", "min", Figure(_minutes(f.handle.median), f.handle.count)),
        ("Wrap-up time: mean", "min", Figure(_minutes(f.wrap_up.mean), f.wrap_up.count)),
    ]


async def count_by_hour_of_week(session: AsyncSession, period: Period) -> list[list[int]]:
    """Calls offered in each local hour of the week: seven rows (Monday first) of 24 hours."""
    hour = sql.utc_hour(_dialect(session), Call.created_at)
    rows = await session.execute(
        sa.select(hour, sa.func.count()).where(Call.direction == INBOUND, _in(Call.created_at, period)).group_by(hour)
    )
    grid = [[0] * 24 for _ in range(7)]
    for text, n in rows.all():
        local = sql.read_utc_hour(text).astimezone(LINE_ZONE)
        grid[local.weekday()][local.hour] += n
    return grid


@dataclass(frozen=True)
class RepeatFigures:
    known_callers: int
    repeat_callers: int
    repeat_calls: int
    withheld_calls: int


async def measure_repeat_callers(session: AsyncSession, period: Period) -> RepeatFigures:
    """Callers recognised by the keyed hash of their number; a withheld number never matches."""
    offered = sa.and_(Call.direction == INBOUND, _in(Call.created_at, period))
    known = sa.and_(offered, Call.from_hash.is_not(None), sa.not_(Call.from_withheld))
    per_caller = (
        sa.select(Call.from_hash, sa.func.count().label("calls")).where(known).group_by(Call.from_hash).subquery()
    )
    repeat = per_caller.c.calls > 1
    row = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.case((repeat, 1), else_=0)), 0),
                sa.func.coalesce(sa.func.sum(sa.case((repeat, per_caller.c.calls), else_=0)), 0),
            ).select_from(per_caller)
        )
    ).one()
    withheld = await session.scalar(
        sa.select(sa.func.count()).where(offered, sa.or_(Call.from_withheld, Call.from_hash.is_(None)))
    )
    return RepeatFigures(row[0], int(row[1]), int(row[2]), withheld or 0)


def _current_revisions(period: Period):
    return sa.and_(
        CallLog.id == CallLogRevision.call_log_id,
        CallLogRevision.revision == CallLog.current_revision,
        _in(CallLog.created_at, period),
    )


async def count_log_answers(session: AsyncSession, period: Period) -> dict[str, Counter[str]]:
    """Contact types, needs, risk levels and outcomes, as each call log now reads (its latest revision)."""
    found: dict[str, Counter[str]] = {}
    for kind, column in (
        ("contact type", CallLogRevision.contact_type),
        ("risk level", CallLogRevision.risk_level),
        ("outcome", CallLogRevision.outcome),
    ):
        rows = await session.execute(
            sa.select(column, sa.func.count()).where(_current_revisions(period)).group_by(column)
        )
        found[kind] = Counter(dict(rows.all()))
    need = sql.json_items(_dialect(session), CallLogRevision.needs)
    rows = await session.execute(
        sa.select(need.c.value, sa.func.count())
        .select_from(CallLog)
        .join(CallLogRevision, _current_revisions(period))
        .join(need, sa.true())
        .group_by(need.c.value)
    )
    found["need"] = Counter(dict(rows.all()))
    return found


# Every category a log can record is listed, so a zero shows as a zero rather than a gap.
LOG_CHOICES = {"contact type": CONTACT_TYPES, "risk level": RISK_LEVELS, "outcome": OUTCOMES}


async def count_transfers(session: AsyncSession, period: Period) -> dict[tuple[str, str], int]:
    """Warm transfers made in the range, by the service they went to and the state they are in now."""
    label = (Organisation.name + " · " + Service.name).label("service")
    rows = await session.execute(
        sa.select(label, TransferTicket.status, sa.func.count())
        .join(Service, Service.id == TransferTicket.service_id)
        .join(Organisation, Organisation.id == Service.organisation_id)
        .where(_in(TransferTicket.created_at, period))
        .group_by(label, TransferTicket.status)
    )
    return {(service, status): n for service, status, n in rows.all()}


@dataclass(frozen=True)
class OutcomeFigures:
    helped: Counter[str]
    not_helped: Counter[str]


async def count_outcomes(session: AsyncSession, period: Period) -> OutcomeFigures:
    """Warm transfers made in the range that ended with a coded outcome: how the completed ones
    helped, and why the declined and given-up ones did not (tickets closed before codes carry none)."""
    rows = await session.execute(
        sa.select(TransferTicket.outcome_code, sa.func.count())
        .where(_in(TransferTicket.created_at, period), TransferTicket.status.in_(("completed", "rejected", "failed")))
        .where(TransferTicket.outcome_code.is_not(None))
        .group_by(TransferTicket.outcome_code)
    )
    counted = dict(rows.all())
    return OutcomeFigures(
        Counter({code: counted.get(code, 0) for code in HELPED}),
        Counter({code: counted.get(code, 0) for code in NOT_HELPED}),
    )


@dataclass(frozen=True)
class HandoverFigures:
    tickets: int
    to_accept: Spread
    to_handover: Spread
    handed_over_within_four_weeks: int
    waiting_past_four_weeks: int


def _in_hours(minutes: Spread) -> Spread:
    def hours(value: float | None) -> float | None:
        return rounded(value / 60 if value is not None else None)

    return Spread(minutes.count, hours(minutes.mean), hours(minutes.median), hours(minutes.p90), hours(minutes.longest))


async def measure_handovers(session: AsyncSession, period: Period, now: datetime) -> HandoverFigures:
    """Hours from the warm transfer (made during the contact) to a partner's accept and to the
    handover, counted in whole minutes so the histogram stays small."""
    dialect = _dialect(session)
    made = _in(TransferTicket.created_at, period)

    def minutes(later):
        return sql.seconds_between(dialect, later, TransferTicket.created_at) // 60

    to_accept = await _histogram(
        session, minutes(TransferTicket.accepted_at), made, TransferTicket.accepted_at.is_not(None)
    )
    to_handover = await _histogram(
        session, minutes(TransferTicket.handover_at), made, TransferTicket.handover_at.is_not(None)
    )
    limit = ALLIANCE_LONGEST_HOURS * 60
    within = await session.scalar(
        sa.select(sa.func.count()).where(
            made, TransferTicket.handover_at.is_not(None), minutes(TransferTicket.handover_at) <= limit
        )
    )
    waiting = await session.scalar(
        sa.select(sa.func.count()).where(
            made,
            TransferTicket.handover_at.is_(None),
            TransferTicket.status.in_(OPEN_STATES),
            TransferTicket.created_at < now - FOUR_WEEKS,
        )
    )
    tickets = await session.scalar(sa.select(sa.func.count()).where(made))
    return HandoverFigures(tickets or 0, _in_hours(to_accept), _in_hours(to_handover), within or 0, waiting or 0)


@dataclass(frozen=True)
class PartnerFigures:
    tickets: int
    accepted: int
    accepted_in_time: int
    reached: int
    reached_in_time: int


async def measure_partners(session: AsyncSession, period: Period) -> dict[str, PartnerFigures]:
    """Each service's warm transfers in the range: accepted and reached, and within its own targets."""
    label = (Organisation.name + " · " + Service.name).label("service")

    def counted(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    rows = await session.execute(
        sa.select(
            label,
            sa.func.count(),
            sa.func.count(TransferTicket.accepted_at),
            counted(TransferTicket.accepted_at <= TransferTicket.accept_by),
            sa.func.count(TransferTicket.handover_at),
            counted(TransferTicket.handover_at <= TransferTicket.contact_by),
        )
        .join(Service, Service.id == TransferTicket.service_id)
        .join(Organisation, Organisation.id == Service.organisation_id)
        .where(_in(TransferTicket.created_at, period))
        .group_by(label)
        .order_by(label)
    )
    return {name: PartnerFigures(*(int(v) for v in values)) for name, *values in rows.all()}
