"""Erlang C: how many listeners a given call rate needs to answer most callers quickly. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Staffing:
    listeners: int
    probability_of_waiting: float
    service_level: float
    average_speed_of_answer_seconds: float
    occupancy: float


def probability_of_waiting(traffic: float, listeners: int) -> float:
    """Erlang C: the chance a caller waits at all, with ``traffic`` erlangs and N listeners."""
    if listeners <= traffic:
        return 1.0
    # Summed in a numerically stable way (ratios, not factorials) so large N does not overflow.
    term, total = 1.0, 1.0
    for k in range(1, listeners):
        term *= traffic / k
        total += term
    top = term * traffic / listeners * listeners / (listeners - traffic)
    return top / (total + top)


def assess(calls_per_hour: float, handle_seconds: float, listeners: int, answer_within_seconds: float) -> Staffing:
    traffic = calls_per_hour * handle_seconds / 3600
    p_wait = probability_of_waiting(traffic, listeners)
    if listeners <= traffic:
        return Staffing(listeners, 1.0, 0.0, math.inf, 1.0)
    if handle_seconds <= 0:
        # Calls answered and ended in the same second (tonight's only ones, say): no load yet.
        return Staffing(listeners, p_wait, 1.0, 0.0, 0.0)
    service_level = 1 - p_wait * math.exp(-(listeners - traffic) * answer_within_seconds / handle_seconds)
    asa = p_wait * handle_seconds / (listeners - traffic)
    return Staffing(listeners, p_wait, service_level, asa, traffic / listeners)


def listeners_needed(
    calls_per_hour: float,
    handle_seconds: float,
    answer_within_seconds: float,
    target_service_level: float,
    shrinkage: float = 0.0,
) -> tuple[Staffing, int]:
    """The smallest team meeting the target, and the rota size once shrinkage (breaks, training,
    sickness) is allowed for."""
    if calls_per_hour <= 0:
        empty = Staffing(0, 0.0, 1.0, 0.0, 0.0)
        return empty, 0
    listeners = max(1, math.floor(calls_per_hour * handle_seconds / 3600) + 1)
    while (
        staffing := assess(calls_per_hour, handle_seconds, listeners, answer_within_seconds)
    ).service_level < target_service_level:
        listeners += 1
    return staffing, math.ceil(listeners / (1 - shrinkage))
