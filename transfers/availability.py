"""Can a service take a warm transfer now, as its partner says? Pure: the partner's own words
(open, paused, closed for a holiday, planned closures; places left, the most it has, its
waiting list) against a moment.

Routing leaves an unavailable service out of the suggestions, and a live transfer never dials
one, so the reason is worded for the listener who will not see it there. A service at capacity
is not unavailable: it is still suggested (lower) and can still be chosen, with the listener told
so, because a caller waiting for a service that suits them beats a caller sent to one that does
not; only the partner pausing or closing it takes it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
    spaces: int | None = None  # places for more warm transfers now; None = not said (not limited)
    closures: tuple[Closure, ...] = ()
    waiting_list: str | None = None  # one of WAITING_LISTS; None = not said
    capacity_updated_at: datetime | None = None  # when places, maximum or waiting list were last given


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
    return None


# Capacity: places now, the most the service has, and how long its waiting list is.

# Bands as the partner says them (the helpline's promise is that no one waits beyond 4 weeks, so
# the last band is the one the listener must hear about).
WAITING_LISTS = ("under-a-week", "1-4-weeks", "over-4-weeks")
WAITING_LIST_WORDS = {"under-a-week": "under a week", "1-4-weeks": "1–4 weeks", "over-4-weeks": "longer than 4 weeks"}
# How the waiting list orders services that meet the same needs: a band not given sits between a
# short wait and a long one, so saying nothing is neither rewarded nor punished.
WAITING_LIST_RANK = {"under-a-week": 0, None: 1, "1-4-weeks": 2, "over-4-weeks": 3}
# Figures not confirmed for a day are shown as possibly out of date.
STALE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class CapacityNow:
    """A service's capacity as routing sees it: the partner's figures and its open queue."""

    available: int | None  # places for more warm transfers now; None = not said
    maximum: int | None  # the most warm transfers it holds at once; None = not said
    waiting: int  # warm transfers open in its queue now
    waiting_list: str | None
    updated_at: datetime | None

    @property
    def at_capacity(self) -> bool:
        return self.available == 0 or (self.maximum is not None and self.waiting >= self.maximum)

    @property
    def live(self) -> bool:
        """The partner has given today's figures (places or waiting list), which go out of date;
        a maximum alone is a standing figure."""
        return self.available is not None or self.waiting_list is not None


def capacity_now(availability: Availability, maximum: int | None, waiting: int) -> CapacityNow:
    return CapacityNow(
        availability.spaces, maximum, waiting, availability.waiting_list, availability.capacity_updated_at
    )


def is_stale(updated_at: datetime | None, now: datetime) -> bool:
    """Figures never confirmed, or not for a day, may no longer be true."""
    return updated_at is None or now - updated_at >= STALE_AFTER


def ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'s' if days != 1 else ''} ago"


def describe_capacity(capacity: CapacityNow, now: datetime) -> tuple[str, ...]:
    """Short phrases shown beside a suggestion: places, the waiting list, how fresh the figures
    are. Nothing when the partner has given no figures for today and the service is not full."""
    words: list[str] = []
    if capacity.at_capacity:
        words.append("at capacity — can still be chosen")
    elif capacity.available is not None:
        words.append(f"{capacity.available} place{'s' if capacity.available != 1 else ''} today")
    if capacity.waiting_list is not None:
        words.append(f"waiting list {WAITING_LIST_WORDS[capacity.waiting_list]}")
    if capacity.live:
        if capacity.updated_at is None:
            words.append("never confirmed by the partner — may be out of date")
        elif is_stale(capacity.updated_at, now):
            words.append(f"updated {ago(capacity.updated_at, now)} — may be out of date")
        else:
            words.append(f"updated {ago(capacity.updated_at, now)}")
    return tuple(words)
