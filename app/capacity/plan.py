"""The listeners the line needs, hour by hour of the week, set against those who were on. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.capacity.demand import HourTotals
from app.capacity.erlang import (
    LINE_TARGETS,
    Staffing,
    Targets,
    assess,
    assess_with_abandonment,
    listeners_for_targets,
    listeners_for_targets_without_abandonment,
    rota_size,
)
from transfers.hours import DAY_NAMES

# Below this many sessions in an hour of the week, its own mean handle time is noise: the
# week's mean is used instead.
FEWEST_SESSIONS = 5


@dataclass(frozen=True)
class LineHabits:
    """The week's pooled figures, used where one hour has too little to say."""

    handle_seconds: float | None
    patience_seconds: float | None


@dataclass(frozen=True)
class HourPlan:
    day: str
    hour: int
    calls_per_hour: float
    handle_seconds: float | None
    patience_seconds: float | None
    abandoned_share: float | None
    needed: int
    needed_erlang_c: int
    rota: int
    available: float
    added: int
    predicted: Staffing | None

    @property
    def gap(self) -> float:
        """Listeners on the line (with any added) minus those needed: negative is under-staffed.
        Presence already leaves out breaks, so shrinkage belongs to the rota, not to this."""
        return round(self.available + self.added - self.needed, 1)


def estimate_habits(week: list[HourTotals]) -> LineHabits:
    """Mean handle plus wrap-up; patience as the exponential estimate for censored waits: time
    every caller spent waiting over the callers who gave up (those answered had not yet)."""
    sessions = sum(h.sessions for h in week)
    handled = sum(h.handled_seconds for h in week)
    abandoned = sum(h.abandoned for h in week)
    waited = sum(h.waited_seconds for h in week)
    return LineHabits(
        handle_seconds=handled / sessions if sessions else None,
        patience_seconds=waited / abandoned if abandoned else None,
    )


def _handle_for(hour: HourTotals, habits: LineHabits) -> float | None:
    if hour.sessions >= FEWEST_SESSIONS:
        return hour.handled_seconds / hour.sessions
    return habits.handle_seconds


def plan_hour(
    index: int,
    hour: HourTotals,
    habits: LineHabits,
    *,
    shrinkage: float,
    targets: Targets = LINE_TARGETS,
    added: int = 0,
) -> HourPlan:
    calls = hour.offered / hour.hours if hour.hours else 0.0
    available = hour.listeners_on / hour.hours if hour.hours else 0.0
    handle = _handle_for(hour, habits)
    patience = habits.patience_seconds
    if calls and handle:
        needed = listeners_for_targets(calls, handle, patience, targets)
        needed_c = listeners_for_targets_without_abandonment(calls, handle, targets)
        on = math.floor(available + added)
        predicted = (
            assess_with_abandonment(calls, handle, patience, on, targets.answer_within_seconds)
            if patience
            else assess(calls, handle, on, targets.answer_within_seconds)
        )
    else:
        needed = needed_c = Staffing(0, 0.0, 1.0, 0.0, 0.0)
        predicted = None
    return HourPlan(
        day=DAY_NAMES[index // 24],
        hour=index % 24,
        calls_per_hour=round(calls, 2),
        handle_seconds=round(handle, 1) if handle else None,
        patience_seconds=round(patience, 1) if patience else None,
        abandoned_share=round(hour.abandoned / hour.offered, 3) if hour.offered else None,
        needed=needed.listeners,
        needed_erlang_c=needed_c.listeners,
        rota=rota_size(needed.listeners, shrinkage),
        available=round(available, 1),
        added=added,
        predicted=predicted,
    )


def plan_week(
    week: list[HourTotals],
    *,
    shrinkage: float,
    targets: Targets = LINE_TARGETS,
    added: dict[int, int] | None = None,
) -> list[HourPlan]:
    habits = estimate_habits(week)
    added = added or {}
    return [
        plan_hour(i, hour, habits, shrinkage=shrinkage, targets=targets, added=added.get(i, 0))
        for i, hour in enumerate(week)
    ]
