"""Can a service take a warm transfer now, as its partner says? Pure: the partner's own words
(open, paused, closed for a holiday, spaces left, planned closures) against a moment.

Routing leaves an unavailable service out of the suggestions, and a live transfer never dials
one, so the reason is worded for the listener who will not see it there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Closure:
    starts: date
    ends: date  # the last day closed
    note: str | None = None


@dataclass(frozen=True)
class Availability:
    state: str = "open"  # open | paused | holiday
    reopens_on: date | None = None  # paused or on holiday until the start of this day
    note: str | None = None
    spaces: int | None = None  # how many more warm transfers it can take; None = not limited
    closures: tuple[Closure, ...] = ()


def parse_closures(items: Sequence[dict]) -> tuple[Closure, ...]:
    return tuple(
        Closure(date.fromisoformat(str(c["starts"])), date.fromisoformat(str(c["ends"])), c.get("note") or None)
        for c in items
    )


def _day(moment: date) -> str:
    return f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b')}"


def _with_note(words: str, note: str | None) -> str:
    return f"{words} ({note})" if note else words


def unavailable_reason(availability: Availability, timezone: str, now: datetime) -> str | None:
    """None when the service can take a warm transfer now; otherwise why not, in a phrase."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    if availability.state != "open" and (availability.reopens_on is None or today < availability.reopens_on):
        words = "paused by the partner" if availability.state == "paused" else "closed for a holiday"
        if availability.reopens_on is not None:
            words += f" until {_day(availability.reopens_on)}"
        return _with_note(words, availability.note)
    for closure in availability.closures:
        if closure.starts <= today <= closure.ends:
            return _with_note(f"closed for a holiday until the end of {_day(closure.ends)}", closure.note)
    if availability.spaces == 0:
        return _with_note("full: no spaces for warm transfers now", availability.note)
    return None
