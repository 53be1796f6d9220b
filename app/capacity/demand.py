"""What the line recorded, per hour of the week in the line's own time: calls offered, handle
plus wrap-up time, callers' patience, and the listeners who were on. SQL aggregates per UTC hour
(at most 168 rows a week), folded into local hours of the week here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import UTCDateTime, is_postgres
from app.core.security import User
from app.helpline.models import SupportSession
from telephony.models import Call, PresenceChange

LINE_ZONE = ZoneInfo("Europe/London")
HOURS_OF_WEEK = 168
# Presence that counts as "on the line": able to take a caller or on one.
ON_LINE = ("available", "on-call", "wrap-up")
# Who is on is counted at half past each hour.
SAMPLE_AT = timedelta(minutes=30)


@dataclass
class HourTotals:
    """Everything recorded in one UTC hour (or summed over the weeks for one hour of the week)."""

    hours: int = 0
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    waited_seconds: float = 0.0
    sessions: int = 0
    handled_seconds: float = 0.0
    listeners_on: int = 0

    def add(self, other: HourTotals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def hour_of_week(moment: datetime) -> int:
    """0 is Monday 00:00-01:00 in the line's own time (Europe/London: GMT or BST)."""
    local = moment.astimezone(LINE_ZONE)
    return local.weekday() * 24 + local.hour


def utc_hours(start: datetime, end: datetime) -> Iterator[datetime]:
    moment = start.replace(minute=0, second=0, microsecond=0)
    while moment < end:
        yield moment
        moment += timedelta(hours=1)


def fold_by_hour_of_week(by_utc_hour: dict[datetime, HourTotals], start: datetime, end: datetime) -> list[HourTotals]:
    """Pure: UTC hours into the 168 local hours of the week, counting how many of each there were
    (a clock change makes one hour twice or not at all)."""
    week = [HourTotals() for _ in range(HOURS_OF_WEEK)]
    for moment in utc_hours(start, end):
        slot = week[hour_of_week(moment)]
        slot.add(by_utc_hour.get(moment, HourTotals()))
        slot.hours += 1
    return week


def _hour_bucket(session: AsyncSession, column: sa.ColumnElement) -> sa.ColumnElement[str]:
    if is_postgres(session):
        return sa.func.to_char(sa.func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24')
    return sa.func.strftime("%Y-%m-%dT%H", column)


def seconds_between(session: AsyncSession, start: sa.ColumnElement, end: sa.ColumnElement) -> sa.ColumnElement:
    if is_postgres(session):
        return sa.func.extract("epoch", end - start)
    return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400


def _parse_bucket(text: str) -> datetime:
    return datetime.fromisoformat(text + ":00+00:00")


async def _calls_by_hour(session: AsyncSession, start: datetime, end: datetime) -> dict[datetime, HourTotals]:
    bucket = _hour_bucket(session, Call.created_at).label("bucket")
    rows = await session.execute(
        sa.select(
            bucket,
            sa.func.count(),
            sa.func.count(Call.answered_at),
            sa.func.coalesce(sa.func.sum(sa.case((Call.abandoned, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(Call.wait_seconds), 0),
        )
        .where(Call.direction == "inbound", Call.created_at >= start, Call.created_at < end)
        .group_by(bucket)
    )
    return {
        _parse_bucket(b): HourTotals(offered=o, answered=a, abandoned=int(ab), waited_seconds=float(w))
        for b, o, a, ab, w in rows
    }


async def _sessions_by_hour(session: AsyncSession, start: datetime, end: datetime) -> dict[datetime, HourTotals]:
    bucket = _hour_bucket(session, SupportSession.started_at).label("bucket")
    finished = sa.func.coalesce(SupportSession.wrap_up_until, SupportSession.ended_at)
    rows = await session.execute(
        sa.select(bucket, sa.func.count(), sa.func.sum(seconds_between(session, SupportSession.started_at, finished)))
        .where(
            SupportSession.ended_at.is_not(None),
            SupportSession.started_at >= start,
            SupportSession.started_at < end,
        )
        .group_by(bucket)
    )
    return {_parse_bucket(b): HourTotals(sessions=n, handled_seconds=float(s or 0)) for b, n, s in rows}


async def _listeners_by_hour(session: AsyncSession, start: datetime, end: datetime) -> dict[datetime, HourTotals]:
    """Listeners on the line at half past each hour: each one's latest presence change by then."""
    # A CTE of VALUES: SQLite cannot name the columns of VALUES in FROM, both can in WITH.
    samples = (
        sa.values(sa.column("at", UTCDateTime()), name="samples")
        .data([(hour + SAMPLE_AT,) for hour in utc_hours(start, end)])
        .cte("samples")
    )
    # Everyone whose presence was ever recorded, by one seek per person on (user_id, at): a
    # DISTINCT over the changes themselves would read the whole history of them.
    ever = sa.select(PresenceChange.id).where(PresenceChange.user_id == User.id).correlate(User).exists()
    listeners = sa.select(User.id.label("user_id")).where(ever).cte("listeners")
    # Per sample and listener, one index seek on (user_id, at) for their latest change by then.
    status_then = (
        sa.select(PresenceChange.status)
        .where(PresenceChange.user_id == listeners.c.user_id, PresenceChange.at <= samples.c.at)
        .order_by(PresenceChange.at.desc(), PresenceChange.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    statuses = (
        sa.select(samples.c.at.label("at"), status_then.label("status"))
        .select_from(samples.join(listeners, sa.true()))
        .subquery()
    )
    rows = await session.execute(
        sa.select(statuses.c.at, sa.func.count()).where(statuses.c.status.in_(ON_LINE)).group_by(statuses.c.at)
    )
    return {at - SAMPLE_AT: HourTotals(listeners_on=n) for at, n in rows}


def _merge(*parts: dict[datetime, HourTotals]) -> dict[datetime, HourTotals]:
    merged: dict[datetime, HourTotals] = {}
    for part in parts:
        for moment, totals in part.items():
            merged.setdefault(moment, HourTotals()).add(totals)
    return merged


def window_ending(now: datetime, weeks: int) -> tuple[datetime, datetime]:
    """The last whole weeks of whole hours before now."""
    end = now.replace(minute=0, second=0, microsecond=0)
    return end - timedelta(weeks=weeks), end


async def measure_week(session: AsyncSession, *, start: datetime, end: datetime) -> list[HourTotals]:
    """The recorded week: 168 local hours, each summed over every time it occurred in the window."""
    by_hour = _merge(
        await _calls_by_hour(session, start, end),
        await _sessions_by_hour(session, start, end),
        await _listeners_by_hour(session, start, end),
    )
    return fold_by_hour_of_week(by_hour, start, end)
