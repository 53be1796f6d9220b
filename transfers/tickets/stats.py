"""How long callers wait for a partner: time to accept and time to contact (the handover), for
every ticket. The real service averages three days from first contact to support, and no one may
wait beyond four weeks; these figures are how a supervisor sees whether that still holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import mean, median

LONGEST_ACCEPTABLE_WAIT = timedelta(weeks=4)


@dataclass(frozen=True)
class TicketTimes:
    created_at: datetime
    accepted_at: datetime | None
    handover_at: datetime | None
    open: bool


def _hours(seconds: list[float]) -> dict[str, float | None]:
    # Seconds beside the hours: a board shows a wait of minutes as minutes, not as "0 h".
    values = [s / 3600 for s in seconds]
    return {
        "mean_hours": round(mean(values), 1) if values else None,
        "median_hours": round(median(values), 1) if values else None,
        "median_seconds": round(median(seconds)) if seconds else None,
        "count": len(values),
    }


def measure_handovers(tickets: Iterable[TicketTimes], now: datetime) -> dict[str, object]:
    """Pure: time to accept and to contact over tickets that got there; the longest wait still
    open, and how many open tickets are past four weeks."""
    tickets = list(tickets)
    to_accept = [(t.accepted_at - t.created_at).total_seconds() for t in tickets if t.accepted_at]
    to_contact = [(t.handover_at - t.created_at).total_seconds() for t in tickets if t.handover_at]
    waiting = [now - t.created_at for t in tickets if t.open]
    return {
        "to_accept": _hours(to_accept),
        "to_contact": _hours(to_contact),
        "longest_open_wait_hours": round(max(waiting).total_seconds() / 3600, 1) if waiting else None,
        "longest_open_wait_seconds": round(max(waiting).total_seconds()) if waiting else None,
        "open_past_four_weeks": sum(1 for w in waiting if w > LONGEST_ACCEPTABLE_WAIT),
    }
