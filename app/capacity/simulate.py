"""A week of calls played out call by call (SimPy), to check the model's rota against the line's
own rules rather than against Erlang's assumptions.

The line's rules, as the app runs them: callers are taken longest-waiting first; a caller who
waits past the longest acceptable wait goes to voicemail and becomes a callback; a listener with
nobody waiting rings back the oldest callback; a listener whose hour on the rota is over finishes
the call they are on (nobody is cut off) before leaving. Callers give up after an exponential
patience, as Erlang A assumes; handle times are exponential too.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import simpy

from app.capacity.demand import HOURS_OF_WEEK
from app.capacity.erlang import LINE_TARGETS, Targets, listeners_for_targets
from transfers.hours import DAY_NAMES

HOUR = 3600.0

# Somerset's line: about 650 calls a week, most between 8 and 10pm. The shape of a day (relative
# calls per hour, the same every day): quiet overnight, steady by day, rising into the evening.
DAY_SHAPE = (0.5,) * 8 + (1.0,) * 10 + (2.0, 2.0, 4.0, 4.0, 2.0, 2.0)


def weekly_profile(calls_per_week: float, shape: Sequence[float] = DAY_SHAPE) -> list[float]:
    """Pure: calls per hour for the 168 hours of the week, summing to ``calls_per_week``."""
    week = list(shape) * 7
    scale = calls_per_week / sum(week)
    return [weight * scale for weight in week]


def rota_for(
    calls_per_hour: Sequence[float], handle_seconds: float, patience_seconds: float, targets: Targets = LINE_TARGETS
) -> list[int]:
    """The model's listeners on the line for each hour (the rota once shrinkage is taken off)."""
    return [listeners_for_targets(rate, handle_seconds, patience_seconds, targets).listeners for rate in calls_per_hour]


@dataclass
class HourResult:
    offered: int = 0
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    voicemail: int = 0
    waited_answered: float = 0.0

    @property
    def service_level(self) -> float | None:
        return self.answered_in_time / self.offered if self.offered else None

    @property
    def abandonment(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None

    @property
    def average_speed_of_answer(self) -> float | None:
        return self.waited_answered / self.answered if self.answered else None

    def add(self, other: HourResult) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class WeekResult:
    hours: list[HourResult]
    callbacks_made: int
    callbacks_left: int
    listeners: list[int] = field(default_factory=list)

    @property
    def week(self) -> HourResult:
        total = HourResult()
        for hour in self.hours:
            total.add(hour)
        return total


@dataclass
class _Caller:
    arrived: float
    hour: int
    taken: simpy.Event
    gone: bool = False


class _Line:
    def __init__(
        self,
        env: simpy.Environment,
        rng: random.Random,
        rota: Sequence[int],
        handle_seconds: float,
        targets: Targets,
        max_wait_seconds: float,
        warm_up_hours: int,
    ):
        self.env, self.rng, self.rota, self.warm_up = env, rng, rota, warm_up_hours
        self.handle, self.targets, self.max_wait = handle_seconds, targets, max_wait_seconds
        self.waiting: deque[_Caller] = deque()
        self.callbacks: deque[float] = deque()
        self.on_line = 0
        self.work = env.event()
        self.results: list[HourResult] = []
        self.callbacks_made = 0

    def hour_index(self) -> int:
        return int(self.env.now // HOUR)

    def week_hour(self, hour: int) -> int:
        """Run hour 0 is the warm-up's start: the Sunday before, so its hours wrap backwards."""
        return (hour - self.warm_up) % HOURS_OF_WEEK

    def wanted(self) -> int:
        return self.rota[self.week_hour(self.hour_index())]

    def nudge(self) -> None:
        if not self.work.triggered:
            self.work.succeed()
        self.work = self.env.event()

    def listener(self):
        self.on_line += 1
        while True:
            if self.on_line > self.wanted():
                self.on_line -= 1
                return
            while self.waiting and self.waiting[0].gone:
                self.waiting.popleft()
            if self.waiting:
                caller = self.waiting.popleft()
                caller.gone = True
                caller.taken.succeed()
                wait = self.env.now - caller.arrived
                result = self.results[caller.hour]
                result.answered += 1
                result.waited_answered += wait
                result.answered_in_time += wait <= self.targets.answer_within_seconds
                yield self.env.timeout(self.rng.expovariate(1 / self.handle))
            elif self.callbacks:
                self.callbacks.popleft()
                self.callbacks_made += 1
                yield self.env.timeout(self.rng.expovariate(1 / self.handle))
            else:
                next_hour = (self.hour_index() + 1) * HOUR
                yield self.work | self.env.timeout(next_hour - self.env.now + 1e-6)

    def caller(self, hour: int, patience_seconds: float):
        caller = _Caller(self.env.now, hour, self.env.event())
        self.waiting.append(caller)
        self.nudge()
        patience = self.rng.expovariate(1 / patience_seconds)
        give_up = self.env.timeout(min(patience, self.max_wait))
        yield caller.taken | give_up
        if caller.gone:
            return
        caller.gone = True
        if patience < self.max_wait:
            self.results[hour].abandoned += 1
        else:
            self.results[hour].voicemail += 1
            self.callbacks.append(self.env.now)

    def shifts(self, hours: int):
        for hour in range(hours):
            missing = self.wanted() - self.on_line
            for _ in range(max(missing, 0)):
                self.env.process(self.listener())
            self.nudge()
            yield self.env.timeout(HOUR)

    def arrivals(self, calls_per_hour: Sequence[float], hours: int, patience_seconds: float):
        for hour in range(hours):
            self.results.append(HourResult())
            rate = calls_per_hour[self.week_hour(hour)] / HOUR
            end = (hour + 1) * HOUR
            if rate <= 0:
                yield self.env.timeout(end - self.env.now)
                continue
            while True:
                gap = self.rng.expovariate(rate)
                if self.env.now + gap >= end:
                    # Memoryless: the rest of this hour's gap is redrawn at the next hour's rate.
                    yield self.env.timeout(end - self.env.now)
                    break
                yield self.env.timeout(gap)
                self.results[hour].offered += 1
                self.env.process(self.caller(hour, patience_seconds))


def simulate_weeks(
    calls_per_hour: Sequence[float],
    rota: Sequence[int],
    *,
    handle_seconds: float,
    patience_seconds: float,
    weeks: int = 1,
    seed: int = 1,
    max_wait_seconds: float = 600,
    targets: Targets = LINE_TARGETS,
) -> WeekResult:
    """Play ``weeks`` weeks (after a warm-up day so Monday does not start on an empty line) and
    fold them into one week of 168 hours. The same seed gives the same week."""
    env = simpy.Environment()
    warm_up = 24
    line = _Line(env, random.Random(seed), rota, handle_seconds, targets, max_wait_seconds, warm_up)
    total_hours = warm_up + weeks * HOURS_OF_WEEK
    env.process(line.shifts(total_hours))
    env.process(line.arrivals(calls_per_hour, total_hours, patience_seconds))
    # A little past the end, so the last hour's callers are answered, give up or reach voicemail.
    env.run(until=total_hours * HOUR + max_wait_seconds)
    folded = [HourResult() for _ in range(HOURS_OF_WEEK)]
    for hour, result in enumerate(line.results[warm_up:]):
        folded[hour % HOURS_OF_WEEK].add(result)
    return WeekResult(folded, line.callbacks_made, len(line.callbacks), list(rota))


def _percent(share: float | None) -> str:
    return "     –" if share is None else f"{share * 100:5.1f}%"


def describe_simulated_week(calls_per_hour: Sequence[float], rota: Sequence[int], **kwargs) -> list[str]:
    """The lines ``openline simulate week`` prints: each hour of the week, then the week."""
    result = simulate_weeks(calls_per_hour, rota, **kwargs)
    lines = ["hour       calls  listeners  answered within 60 s  gave up   ASA"]
    for index, hour in enumerate(result.hours):
        asa = hour.average_speed_of_answer
        lines.append(
            f"{DAY_NAMES[index // 24].capitalize()} {index % 24:02d}:00  {hour.offered:5d}  {rota[index]:9d}  "
            f"{_percent(hour.service_level):>20}  {_percent(hour.abandonment)}  {'–' if asa is None else f'{asa:.0f} s'}"
        )
    week = result.week
    asa = week.average_speed_of_answer
    lines.append(
        f"week: {week.offered} calls, {_percent(week.service_level).strip()} answered within 60 s, "
        f"{_percent(week.abandonment).strip()} gave up, ASA {'–' if asa is None else f'{asa:.1f} s'}, "
        f"{week.voicemail} to voicemail ({result.callbacks_made} rung back, {result.callbacks_left} left); "
        f"{sum(rota)} listener-hours"
    )
    return lines


async def recorded_demand(session) -> tuple[list[float], float | None, float | None]:
    """Calls per hour of the week, handle time and patience, as the capacity model learned them."""
    from app.capacity.demand import measure_week, window_ending
    from app.capacity.plan import estimate_habits
    from app.core.db import runtime_of

    runtime = runtime_of(session)
    start, end = window_ending(runtime.clock.now(), runtime.settings.capacity_weeks)
    week = await measure_week(session, start=start, end=end)
    habits = estimate_habits(week)
    rates = [hour.offered / hour.hours if hour.hours else 0.0 for hour in week]
    return rates, habits.handle_seconds, habits.patience_seconds
