"""How long callers wait for a partner: time to accept and time to contact (the handover). The
real service averages three days from first contact to support, and no one may wait beyond four
weeks; these figures are how a supervisor sees whether that still holds.

The board asks the database for the totals (``WaitTotals``: a count, a sum and a median, over a
bounded window); ``measure_handovers`` is the same arithmetic over tickets in hand, and the
definition the SQL is tested against."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

LONGEST_ACCEPTABLE_WAIT = timedelta(weeks=4)


@dataclass(frozen=True)
class TicketTimes:
    created_at: datetime
    accepted_at: datetime | None
    handover_at: datetime | None
    open: bool


@dataclass(frozen=True)
class WaitTotals:
    """Waits (in seconds) of the tickets that got there: how many, their sum and their median."""

    count: int
    total_seconds: float
    median_seconds: float | None

    @classmethod
    def of(cls, seconds: list[float]) -> WaitTotals:
        return cls(len(seconds), sum(seconds), median(seconds) if seconds else None)


def _hours(totals: WaitTotals) -> dict[str, float | None]:
    # Seconds beside the hours: a board shows a wait of minutes as minutes, not as "0 h".
    if not totals.count or totals.median_seconds is None:
        return {"mean_hours": None, "median_hours": None, "median_seconds": None, "count": 0}
    return {
        "mean_hours": round(totals.total_seconds / totals.count / 3600, 1),
        "median_hours": round(totals.median_seconds / 3600, 1),
        "median_seconds": round(totals.median_seconds),
        "count": totals.count,
    }


def describe_handovers(
    to_accept: WaitTotals, to_contact: WaitTotals, longest_open: timedelta | None, open_past_four_weeks: int
) -> dict[str, object]:
    """Pure: the board's handover figures from the totals."""
    return {
        "to_accept": _hours(to_accept),
        "to_contact": _hours(to_contact),
        "longest_open_wait_hours": round(longest_open.total_seconds() / 3600, 1) if longest_open is not None else None,
        "longest_open_wait_seconds": round(longest_open.total_seconds()) if longest_open is not None else None,
        "open_past_four_weeks": open_past_four_weeks,
    }


def measure_handovers(tickets: Iterable[TicketTimes], now: datetime) -> dict[str, object]:
    """Pure: time to accept and to contact over tickets that got there; the longest wait still
    open, and how many open tickets are past four weeks."""
    tickets = list(tickets)
    waiting = [now - t.created_at for t in tickets if t.open]
    return describe_handovers(
        WaitTotals.of([(t.accepted_at - t.created_at).total_seconds() for t in tickets if t.accepted_at]),
        WaitTotals.of([(t.handover_at - t.created_at).total_seconds() for t in tickets if t.handover_at]),
        max(waiting) if waiting else None,
        sum(1 for w in waiting if w > LONGEST_ACCEPTABLE_WAIT),
    )
