"""How the printable export shows a moment: a record on paper always says the day."""

from __future__ import annotations

from datetime import datetime


def printable_time(moment: datetime | None) -> str:
    """24-hour, en-GB, UTC, with the day: '23 Nov 2026, 20:00 UTC'; an empty moment is a dash."""
    return moment.strftime("%-d %b %Y, %H:%M UTC") if moment else "–"
