"""Opening hours (HSDS schedule words), pure: is a service open, when does it next open, and when
has a given number of *opening* hours passed (targets count only the hours a service is open)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_GROUPS = {"daily": range(7), "weekdays": range(5), "weekends": range(5, 7)}
MIDNIGHT = time(0, 0)
SEARCH_DAYS = 400


@dataclass(frozen=True)
class OpeningSlot:
    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time  # time(0, 0) means midnight at the end of the day


def always_open() -> tuple[OpeningSlot, ...]:
    return (OpeningSlot(frozenset(range(7)), MIDNIGHT, MIDNIGHT),)


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in str(text).lower().replace(" ", "").split(","):
        if part in DAY_GROUPS:
            days.update(DAY_GROUPS[part])
        elif "-" in part:
            first, _, last = part.partition("-")
            if first not in DAY_NAMES or last not in DAY_NAMES:
                raise ValueError(f"unknown day range {part!r}")
            a, b = DAY_NAMES.index(first), DAY_NAMES.index(last)
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif part in DAY_NAMES:
            days.add(DAY_NAMES.index(part))
        else:
            raise ValueError(f"unknown day {part!r} (use mon..sun, weekdays, weekends or daily)")
    return frozenset(days)


def _parse_time(text: str, *, closing: bool) -> time:
    value = str(text).strip()
    if closing and value in ("24:00", "24:00:00"):
        return MIDNIGHT
    try:
        hours, minutes = value.split(":")[:2]
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ValueError(f"bad time {value!r} (use HH:MM, 24-hour)") from None


def parse_schedule(items: list[dict]) -> tuple[OpeningSlot, ...]:
    slots = []
    for item in items:
        opens = _parse_time(item["opens"], closing=False)
        closes = _parse_time(item["closes"], closing=True)
        if closes != MIDNIGHT and closes <= opens:
            raise ValueError(f"opening hours run backwards: opens {item['opens']} but closes {item['closes']}")
        slots.append(OpeningSlot(_parse_days(item["days"]), opens, closes))
    return tuple(slots)


def _format_days(days: frozenset[int]) -> str:
    for name, group in DAY_GROUPS.items():
        if days == frozenset(group):
            return name
    return ",".join(DAY_NAMES[d] for d in sorted(days))


def format_schedule(slots: tuple[OpeningSlot, ...]) -> list[dict]:
    return [
        {
            "days": _format_days(s.days),
            "opens": s.opens.strftime("%H:%M"),
            "closes": "24:00" if s.closes == MIDNIGHT else s.closes.strftime("%H:%M"),
        }
        for s in slots
    ]


def _day_intervals(slots: tuple[OpeningSlot, ...], zone: ZoneInfo, day: date) -> list[tuple[datetime, datetime]]:
    out = []
    for slot in slots:
        if day.weekday() in slot.days:
            start = datetime.combine(day, slot.opens, tzinfo=zone)
            end_day = day + timedelta(days=1) if slot.closes == MIDNIGHT else day
            out.append((start, datetime.combine(end_day, slot.closes, tzinfo=zone)))
    return sorted(out)


def _intervals(slots: tuple[OpeningSlot, ...], tz: str, after: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Opening intervals (in UTC) that end after ``after``, in order, adjacent ones merged."""
    zone = ZoneInfo(tz)
    day = after.astimezone(zone).date()
    current: tuple[datetime, datetime] | None = None
    for offset in range(SEARCH_DAYS):
        for start, end in _day_intervals(slots, zone, day + timedelta(days=offset)):
            start, end = start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))
            if end <= after:
                continue
            if current is not None and start <= current[1]:
                current = (current[0], max(current[1], end))
                continue
            if current is not None:
                yield current
            current = (start, end)
        if current is not None and offset > 8 and current[1] < after + timedelta(days=offset - 1):
            yield current
            current = None
    if current is not None:
        yield current


def open_spans(
    slots: tuple[OpeningSlot, ...], tz: str, start: datetime, until: datetime
) -> list[tuple[datetime, datetime]]:
    """The opening intervals (UTC, adjacent ones merged) between ``start`` and ``until``, clipped to them."""
    spans = []
    for opens, closes in _intervals(slots, tz, start):
        if opens >= until:
            break
        spans.append((max(opens, start), min(closes, until)))
    return spans


def is_open(slots: tuple[OpeningSlot, ...], tz: str, at: datetime) -> bool:
    first = next(_intervals(slots, tz, at), None)
    return first is not None and first[0] <= at < first[1]


def next_opening(slots: tuple[OpeningSlot, ...], tz: str, after: datetime) -> datetime | None:
    first = next(_intervals(slots, tz, after), None)
    return None if first is None else max(first[0], after)


def add_open_hours(slots: tuple[OpeningSlot, ...], tz: str, start: datetime, hours: float) -> datetime:
    """When ``hours`` of opening time have passed after ``start``. With no schedule at all the
    clock simply runs (a target must still fall due)."""
    remaining = timedelta(hours=hours)
    if not slots:
        return start + remaining
    for opens, closes in _intervals(slots, tz, start):
        begin = max(opens, start)
        if closes - begin >= remaining:
            return begin + remaining
        remaining -= closes - begin
    raise ValueError(f"the schedule does not provide {hours} opening hours within {SEARCH_DAYS} days")


def _clock(moment: datetime) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


def describe_next_opening(slots: tuple[OpeningSlot, ...], tz: str, now: datetime) -> str:
    zone = ZoneInfo(tz)
    first = next(_intervals(slots, tz, now), None)
    if first is None:
        return "no opening hours listed"
    opens, closes = first
    if opens <= now:
        if closes - now >= timedelta(days=7):
            return "open 24 hours"
        return f"open now until {_day_word(closes.astimezone(zone), now.astimezone(zone), until=True)}"
    return f"closed now: opens {_day_word(opens.astimezone(zone), now.astimezone(zone))}"


def _day_word(moment: datetime, now: datetime, *, until: bool = False) -> str:
    days = (moment.date() - now.date()).days
    if until and moment.time() == MIDNIGHT and days == 1:
        return "midnight"
    if days == 0:
        return _clock(moment) if until else f"today {_clock(moment)}"
    if days == 1:
        return f"tomorrow {_clock(moment)}"
    return f"{FULL_DAY_NAMES[moment.weekday()]} {_clock(moment)}"
