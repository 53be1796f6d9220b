"""The capacity and demand model as one answer: the line's week, the partners, the what-if."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.capacity.demand import LINE_ZONE, measure_week, window_ending
from app.capacity.erlang import LINE_TARGETS, Staffing
from app.capacity.partners import (
    find_unserved_hours,
    list_need_slugs,
    load_schedules,
    measure_locality_waits,
    measure_services,
    reroute_paused,
)
from app.capacity.plan import HourPlan, estimate_habits, plan_week
from app.core.db import runtime_of
from app.core.errors import Unprocessable
from transfers.directory.models import Service
from transfers.hours import DAY_NAMES


@dataclass(frozen=True)
class WhatIf:
    """Listeners added to some hours of the week, and services paused."""

    add_listeners: int = 0
    add_days: tuple[str, ...] = DAY_NAMES
    add_from: int = 0
    add_to: int = 24
    pause: tuple[int, ...] = field(default_factory=tuple)

    def added_by_hour(self) -> dict[int, int]:
        if not self.add_listeners:
            return {}
        return {
            DAY_NAMES.index(day) * 24 + hour: self.add_listeners
            for day in self.add_days
            for hour in range(self.add_from, self.add_to)
        }


def _staffing(s: Staffing | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "listeners": s.listeners,
        "service_level": round(s.service_level, 4),
        "abandonment": round(s.abandonment, 4),
        "average_speed_of_answer_seconds": None
        if s.average_speed_of_answer_seconds == float("inf")
        else round(s.average_speed_of_answer_seconds, 1),
    }


def _hour_out(plan: HourPlan) -> dict[str, Any]:
    out = asdict(plan)
    out["predicted"] = _staffing(plan.predicted)
    out["gap"] = plan.gap
    return out


def summarise_week(hours: list[HourPlan]) -> dict[str, Any]:
    """Pure: the week's predicted figures, each hour weighted by its calls."""
    calls = sum(h.calls_per_hour for h in hours if h.predicted)
    if not calls:
        return {"calls_per_week": 0.0, "service_level": None, "abandonment": None, "hours_under": 0, "hours_over": 0}

    def weighted(name: str) -> float:
        return round(sum(getattr(h.predicted, name) * h.calls_per_hour for h in hours if h.predicted) / calls, 4)

    return {
        "calls_per_week": round(calls, 1),
        "service_level": weighted("service_level"),
        "abandonment": weighted("abandonment"),
        "hours_under": sum(1 for h in hours if h.gap < 0),
        "hours_over": sum(1 for h in hours if h.gap >= 1),
    }


async def _check_paused(session: AsyncSession, pause: tuple[int, ...]) -> None:
    if not pause:
        return
    known = set(await session.scalars(sa.select(Service.id).where(Service.id.in_(pause))))
    unknown = [str(p) for p in pause if p not in known]
    if unknown:
        raise Unprocessable("pause", f"no such service: {', '.join(unknown)}")


def _monday_of_window(end: datetime) -> datetime:
    """The Monday 00:00 (the line's time) starting the last whole week: opening hours are tested on it."""
    local = end.astimezone(LINE_ZONE)
    return (local - timedelta(days=local.weekday() + 7)).replace(hour=0, minute=0, second=0, microsecond=0)


async def describe_capacity(
    session: AsyncSession, *, weeks: int | None = None, shrinkage: float | None = None, what_if: WhatIf = WhatIf()
) -> dict[str, Any]:
    runtime = runtime_of(session)
    weeks = weeks or runtime.settings.capacity_weeks
    shrinkage = runtime.settings.capacity_shrinkage if shrinkage is None else shrinkage
    await _check_paused(session, what_if.pause)
    now = runtime.clock.now()
    start, end = window_ending(now, weeks)
    week = await measure_week(session, start=start, end=end)
    habits = estimate_habits(week)
    as_recorded = plan_week(week, shrinkage=shrinkage)
    with_changes = plan_week(week, shrinkage=shrinkage, added=what_if.added_by_hour())
    services = await measure_services(session, start=start, end=end, now=now)
    rerouted = reroute_paused(services, set(what_if.pause))
    needs = await list_need_slugs(session)
    schedules = await load_schedules(session)
    return {
        "window": {"start": start.isoformat(), "end": end.isoformat(), "weeks": weeks, "zone": str(LINE_ZONE)},
        "targets": asdict(LINE_TARGETS),
        "shrinkage": shrinkage,
        "handle_seconds": round(habits.handle_seconds, 1) if habits.handle_seconds else None,
        "patience_seconds": round(habits.patience_seconds, 1) if habits.patience_seconds else None,
        "hours": [_hour_out(h) for h in with_changes],
        "week": summarise_week(as_recorded),
        "what_if": {
            "add_listeners": what_if.add_listeners,
            "add_days": list(what_if.add_days),
            "add_from": what_if.add_from,
            "add_to": what_if.add_to,
            "pause": list(what_if.pause),
            "week": summarise_week(with_changes),
            "rerouted": rerouted,
        },
        "services": [
            {
                **asdict(s),
                "expected_wait_days": s.expected_wait_days,
                "beyond_capacity": s.beyond_capacity,
                "beyond_capacity_because": s.beyond_capacity_because,
            }
            for s in services
        ],
        "pinch_points": {
            "unserved_needs": find_unserved_hours(needs, services, schedules, week, _monday_of_window(end)),
            "longest_waiting_localities": await measure_locality_waits(session, start=start, end=end),
            "beyond_capacity": [s.name for s in services if s.beyond_capacity],
        },
    }
