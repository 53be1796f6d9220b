"""Which services should this caller be handed to? A pure, deterministic ranking with reasons.

No wrong door: the list is never empty, because the caller's locality team always comes last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from transfers.availability import (
    WAITING_LIST_RANK,
    Availability,
    CapacityNow,
    capacity_now,
    describe_capacity,
    is_stale,
    unavailable_reason,
)
from transfers.hours import OpeningSlot, describe_next_opening, is_open


@dataclass(frozen=True)
class ServiceOption:
    id: int
    name: str
    organisation: str
    status: str
    needs_met: frozenset[str]
    min_age: int | None
    max_age: int | None
    areas: frozenset[str]  # empty: the whole county
    schedule: tuple[OpeningSlot, ...]
    timezone: str
    capacity: int | None
    waiting: int
    live_phone: str | None
    locality_team_for: str | None
    accepts_urgent: bool = True
    availability: Availability = Availability()


@dataclass(frozen=True)
class CallerCircumstances:
    needs: frozenset[str]
    age: int | None
    locality: str | None
    urgent: bool


@dataclass(frozen=True)
class Suggestion:
    service_id: int
    name: str
    organisation: str
    rank: int
    reasons: tuple[str, ...]
    open_now: bool
    live_transfer_possible: bool
    matched_needs: tuple[str, ...]
    fallback: bool
    # False only for a locality team kept as the last resort while its partner says it is out.
    available: bool = True
    # Capacity beside the suggestion: at capacity still can be chosen (the listener is told so).
    at_capacity: bool = False
    places: int | None = None
    maximum: int | None = None
    waiting_list: str | None = None
    capacity_updated_at: datetime | None = None
    capacity_stale: bool = False
    capacity_words: tuple[str, ...] = ()


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _eligible(service: ServiceOption, caller: CallerCircumstances) -> bool:
    if service.status != "active":
        return False
    if caller.age is not None:
        if service.min_age is not None and caller.age < service.min_age:
            return False
        if service.max_age is not None and caller.age > service.max_age:
            return False
    if caller.locality and service.areas and caller.locality not in service.areas:
        return False
    return bool(service.needs_met & caller.needs)


def _capacity(service: ServiceOption) -> CapacityNow:
    return capacity_now(service.availability, service.capacity, service.waiting)


def _full(service: ServiceOption) -> bool:
    return service.capacity is not None and service.waiting >= service.capacity


def _load(service: ServiceOption) -> float:
    return service.waiting / service.capacity if service.capacity else 0.0


def _reasons(
    service: ServiceOption,
    matched: tuple[str, ...],
    open_now: bool,
    now: datetime,
    fallback: bool,
    unavailable: str | None,
) -> tuple[str, ...]:
    reasons = []
    if unavailable:
        reasons.append(f"unavailable now: {unavailable}")
    if fallback:
        reasons.append("locality team: the fallback, so no one meets a wrong door")
    if matched:
        reasons.append(f"meets {_join(matched)}")
    if service.capacity is not None:
        reasons.append(
            f"{service.waiting} waiting of capacity {service.capacity}" + (" (full)" if _full(service) else "")
        )
    else:
        reasons.append(f"{service.waiting} waiting")
    reasons.append(describe_next_opening(service.schedule, service.timezone, now))
    if service.live_phone and open_now:
        reasons.append("live line open now: can transfer while the caller is on the line")
    return tuple(reasons)


def _suggest(
    service: ServiceOption, caller: CallerCircumstances, now: datetime, rank: int, fallback: bool
) -> Suggestion:
    matched = tuple(sorted(service.needs_met & caller.needs))
    open_now = is_open(service.schedule, service.timezone, now)
    unavailable = unavailable_reason(service.availability, service.timezone, now)
    capacity = _capacity(service)
    return Suggestion(
        service.id,
        service.name,
        service.organisation,
        rank,
        _reasons(service, matched, open_now, now, fallback, unavailable),
        open_now,
        bool(service.live_phone) and open_now and unavailable is None,
        matched,
        fallback,
        unavailable is None,
        at_capacity=capacity.at_capacity,
        places=capacity.available,
        maximum=capacity.maximum,
        waiting_list=capacity.waiting_list,
        capacity_updated_at=capacity.updated_at,
        capacity_stale=capacity.live and is_stale(capacity.updated_at, now),
        capacity_words=describe_capacity(capacity, now),
    )


def ranking_key(service: ServiceOption, caller: CallerCircumstances, now: datetime) -> tuple:
    """How eligible services are ordered, best first: the needs met first, then room (a service at
    capacity below one with places), then for an urgent caller a service open now, then the
    waiting list (under a week, not said, 1–4 weeks, longer), then open now, then the share of
    its maximum already waiting; the name and id make it deterministic."""
    open_now = is_open(service.schedule, service.timezone, now)
    capacity = _capacity(service)
    return (
        -len(service.needs_met & caller.needs),
        capacity.at_capacity,
        not open_now if caller.urgent else False,
        WAITING_LIST_RANK[capacity.waiting_list],
        not open_now,
        _load(service),
        service.name,
        service.id,
    )


def rank_services(caller: CallerCircumstances, services: Sequence[ServiceOption], now: datetime) -> list[Suggestion]:
    """Rank eligible services; the caller's locality team (all teams when the locality is unknown)
    comes last. Raises ValueError when the directory has no locality team at all."""
    # What the partner says of today (paused, on holiday) leaves a service out; a locality team
    # too, unless every team is out, since the last resort must stay. At capacity is not out.
    available = {s.id for s in services if unavailable_reason(s.availability, s.timezone, now) is None}
    teams = sorted((s for s in services if s.locality_team_for and s.status == "active"), key=lambda s: (s.name, s.id))
    teams = [s for s in teams if s.id in available] or teams
    fallbacks = [s for s in teams if s.locality_team_for == caller.locality] if caller.locality else teams
    if not fallbacks:
        fallbacks = teams
    if not fallbacks:
        raise ValueError("the directory has no active locality team: every caller needs a last resort")
    fallback_ids = {s.id for s in fallbacks}
    candidates = [
        s
        for s in services
        if s.id not in fallback_ids and not s.locality_team_for and s.id in available and _eligible(s, caller)
    ]
    ranked = sorted(candidates, key=lambda s: ranking_key(s, caller, now))
    out = [_suggest(s, caller, now, i, False) for i, s in enumerate(ranked, 1)]
    out += [_suggest(s, caller, now, len(out) + i, True) for i, s in enumerate(fallbacks, 1)]
    return out
