"""The report's date range: local dates of the line (Europe/London), the UTC instants that bound
them, and the period of the same length just before. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.core.errors import Unprocessable

# The line's own time: a caller at 21:00 in July rang at 21:00, not 20:00 UTC. No setting names the
# line's zone yet (partner services carry their own, defaulting to this one).
LINE_ZONE = ZoneInfo("Europe/London")
DEFAULT_DAYS = 7
# Longer than a year and a month, and nobody's records are still kept to be counted.
LONGEST_DAYS = 400
# The line opened this century; bounding the years also keeps the period before inside the calendar.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
_EN_GB = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return local_midnight(self.first)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1))

    def before(self) -> Period:
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def label(self) -> str:
        return f"{self.first:%d/%m/%Y} to {self.last:%d/%m/%Y}"


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LINE_ZONE).astimezone(UTC)


def parse_day(value: str | None, field: str) -> date | None:
    """A date as a person types it (23/11/2026) or as a date field sends it (2026-11-23)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        found = _EN_GB.fullmatch(text)
        day = date(int(found[3]), int(found[2]), int(found[1])) if found else date.fromisoformat(text)
    except ValueError:
        raise Unprocessable(field, "a date such as 23/11/2026") from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise Unprocessable(field, f"a date between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return day


def choose_period(first: str | None, last: str | None, now: datetime) -> Period:
    """The range asked for; without one, the last seven days up to today (the line's date)."""
    today = now.astimezone(LINE_ZONE).date()
    end = parse_day(last, "to") or today
    start = parse_day(first, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise Unprocessable("from", "the first day comes after the last; swap them")
    if (end - start).days + 1 > LONGEST_DAYS:
        raise Unprocessable("to", f"a report covers at most {LONGEST_DAYS} days")
    return Period(start, end)
