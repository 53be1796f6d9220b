"""Erlang C and Erlang A: how many listeners a given call rate needs. Pure.

Erlang C (M/M/n) assumes nobody hangs up, so it over-staffs a line where callers give up;
Erlang A (M/M/n+M) gives each waiting caller an exponential patience and is what the line is
planned with. Erlang C stays as the cross-check (and as the board's quick figure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable


@dataclass(frozen=True)
class Staffing:
    listeners: int
    probability_of_waiting: float
    service_level: float
    average_speed_of_answer_seconds: float
    occupancy: float
    abandonment: float = 0.0
    # Over every caller, the time given up on included (Erlang C: the same as the ASA).
    average_wait_seconds: float | None = None


@dataclass(frozen=True)
class Targets:
    """The line's targets: NHS 111 mental-health option (ASA 20 s), NHS 111 (95% within 60 s,
    under 5% abandoned)."""

    average_speed_of_answer_seconds: float = 20
    answer_within_seconds: float = 60
    service_level: float = 0.95
    abandonment: float = 0.05

    def met_by(self, staffing: Staffing) -> bool:
        return (
            staffing.average_speed_of_answer_seconds <= self.average_speed_of_answer_seconds
            and staffing.service_level >= self.service_level
            and staffing.abandonment < self.abandonment
        )


LINE_TARGETS = Targets()


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
    """Erlang C for one team size."""
    traffic = calls_per_hour * handle_seconds / 3600
    if listeners <= traffic:
        return Staffing(listeners, 1.0, 0.0, math.inf, 1.0)
    p_wait = probability_of_waiting(traffic, listeners)
    if handle_seconds <= 0:
        # Calls answered and ended in the same second (tonight's only ones, say): no load yet.
        return Staffing(listeners, p_wait, 1.0, 0.0, 0.0)
    service_level = 1 - p_wait * math.exp(-(listeners - traffic) * answer_within_seconds / handle_seconds)
    asa = p_wait * handle_seconds / (listeners - traffic)
    return Staffing(listeners, p_wait, service_level, asa, traffic / listeners)


def _smallest_team(
    evaluate: Callable[[int], Staffing], good_enough: Callable[[Staffing], bool], start: int
) -> Staffing:
    listeners = max(1, start)
    while not good_enough(staffing := evaluate(listeners)):
        listeners += 1
    return staffing


def rota_size(listeners: int, shrinkage: float) -> int:
    """Listeners to put on the rota so that, after breaks, training and sickness, enough are on."""
    # Rounded to 9 places first: 16 / 0.7 must not become 23 only by a float's last bit.
    return math.ceil(round(listeners / (1 - shrinkage), 9))


def listeners_needed(
    calls_per_hour: float,
    handle_seconds: float,
    answer_within_seconds: float,
    target_service_level: float,
    shrinkage: float = 0.0,
) -> tuple[Staffing, int]:
    """Erlang C: the smallest team meeting the service level, and the rota size once shrinkage is
    allowed for."""
    if calls_per_hour <= 0:
        return Staffing(0, 0.0, 1.0, 0.0, 0.0), 0
    staffing = _smallest_team(
        lambda n: assess(calls_per_hour, handle_seconds, n, answer_within_seconds),
        lambda s: s.service_level >= target_service_level,
        math.floor(calls_per_hour * handle_seconds / 3600) + 1,
    )
    return staffing, rota_size(staffing.listeners, shrinkage)


# Pure and asked again for the same hour (as recorded, then with a what-if): remembered.
@lru_cache(maxsize=4096)
def listeners_for_targets_without_abandonment(
    calls_per_hour: float, handle_seconds: float, targets: Targets = LINE_TARGETS
) -> Staffing:
    """Erlang C against all the line's targets (nobody abandons, so that target is met trivially)."""
    if calls_per_hour <= 0:
        return Staffing(0, 0.0, 1.0, 0.0, 0.0)
    return _smallest_team(
        lambda n: assess(calls_per_hour, handle_seconds, n, targets.answer_within_seconds),
        targets.met_by,
        math.floor(calls_per_hour * handle_seconds / 3600) + 1,
    )


# Erlang A ---------------------------------------------------------------------------------------

# States whose stationary weight falls below this share of the largest are left out of the chain.
_NEGLIGIBLE = math.log(1e-14)


def _stationary(arrival: float, service: float, abandon: float, listeners: int) -> list[float]:
    """The birth-death chain's stationary distribution: k callers on the line (served or waiting)."""
    logs = [0.0]
    k, peak = 0, 0.0
    while True:
        k += 1
        death = min(k, listeners) * service + max(k - listeners, 0) * abandon
        logs.append(logs[-1] + math.log(arrival / death))
        peak = max(peak, logs[-1])
        if k > listeners and logs[-1] - peak < _NEGLIGIBLE and arrival < death:
            break
    weights = [math.exp(v - peak) for v in logs]
    total = math.fsum(weights)
    return [w / total for w in weights]


def _answered_by(rates: list[float], within_seconds: float) -> list[float]:
    """P(Exp(rates[0]) + ... + Exp(rates[m]) <= t) for every m, by uniformising the pure-birth chain."""
    if not rates:
        return []
    fastest = max(rates)
    mean_jumps = fastest * within_seconds
    jumps = int(mean_jumps + 10 * math.sqrt(mean_jumps) + 20)
    stage = [0.0] * (len(rates) + 1)
    stage[0] = 1.0
    passed = [0.0] * len(rates)
    for j in range(jumps + 1):
        # In logs: e^-m underflows once a busy hour makes m (jumps expected within t) large.
        poisson = math.exp(j * math.log(mean_jumps) - mean_jumps - math.lgamma(j + 1)) if mean_jumps else float(j == 0)
        if j:
            nxt = [0.0] * len(stage)
            for i, p in enumerate(stage):
                if not p:
                    continue
                if i == len(rates):
                    nxt[i] += p
                    continue
                move = rates[i] / fastest
                nxt[i] += p * (1 - move)
                nxt[i + 1] += p * move
            stage = nxt
        # Past stage m means every stage up to m is done: a tail sum.
        tail = 0.0
        for i in range(len(rates), 0, -1):
            tail += stage[i]
            passed[i - 1] += poisson * tail
    return [min(1.0, p) for p in passed]


def assess_with_abandonment(
    calls_per_hour: float,
    handle_seconds: float,
    patience_seconds: float,
    listeners: int,
    answer_within_seconds: float,
) -> Staffing:
    """Erlang A for one team size, exactly from the birth-death chain.

    A caller arriving to find k >= n on the line has m = k - n ahead; while i are ahead the queue
    moves at n·μ + i·θ and the caller gives up at θ, so they reach a listener with probability
    Π (nμ + iθ)/(nμ + (i+1)θ) and, given that, after a sum of exponential stages (memoryless, so
    the stage lengths do not depend on which event ended them). Service level counts every caller
    who rang: those who gave up count against it. The average speed of answer is over answered
    callers.
    """
    if calls_per_hour <= 0:
        return Staffing(listeners, 0.0, 1.0, 0.0, 0.0)
    arrival, service, abandon = calls_per_hour / 3600, 1 / handle_seconds, 1 / patience_seconds
    states = _stationary(arrival, service, abandon, max(listeners, 0))
    ahead = range(len(states) - max(listeners, 0))
    stage_rates = [listeners * service + (i + 1) * abandon for i in ahead]
    within = _answered_by(stage_rates, answer_within_seconds)
    p_wait = math.fsum(states[listeners:])
    reach, mean_wait = 1.0, 0.0
    answered = answered_in_time = math.fsum(states[:listeners])
    waited_total = 0.0
    for m in ahead:
        reach *= (listeners * service + m * abandon) / stage_rates[m]
        mean_wait += 1 / stage_rates[m]
        weight = states[listeners + m] * reach
        answered += weight
        answered_in_time += weight * within[m]
        waited_total += weight * mean_wait
    traffic = arrival / service
    return Staffing(
        listeners=listeners,
        probability_of_waiting=p_wait,
        service_level=min(1.0, answered_in_time),
        average_speed_of_answer_seconds=waited_total / answered if answered else math.inf,
        occupancy=min(1.0, traffic * answered / listeners) if listeners else 1.0,
        abandonment=max(0.0, 1 - answered),
        # Little's law on the queue: abandonment = θ·E[queue]/λ, so E[wait] = abandonment · patience.
        average_wait_seconds=max(0.0, 1 - answered) * patience_seconds,
    )


@lru_cache(maxsize=4096)
def listeners_for_targets(
    calls_per_hour: float,
    handle_seconds: float,
    patience_seconds: float | None,
    targets: Targets = LINE_TARGETS,
) -> Staffing:
    """The smallest team meeting every target with Erlang A; with no recorded abandonment
    (patience unknown or endless) Erlang C is the same model."""
    if calls_per_hour <= 0:
        return Staffing(0, 0.0, 1.0, 0.0, 0.0)
    if patience_seconds is None or math.isinf(patience_seconds):
        return listeners_for_targets_without_abandonment(calls_per_hour, handle_seconds, targets)
    # Abandonment can let a team smaller than the traffic meet a loose target, so start low.
    start = max(1, math.floor(calls_per_hour * handle_seconds / 3600 * 0.5))
    return _smallest_team(
        lambda n: assess_with_abandonment(
            calls_per_hour, handle_seconds, patience_seconds, n, targets.answer_within_seconds
        ),
        targets.met_by,
        start,
    )
