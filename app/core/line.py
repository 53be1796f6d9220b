"""The line's own settings as the telephony reads them: whether it is open, how long a caller may
wait, and what callers hear. Kept in each process's memory (the incoming-call webhook must not
query for them) and re-read from the database at most every ``REFRESH_SECONDS``; an admin's save
refreshes this process at once, other processes within that time.

Until an admin saves a value, the environment's settings (``OPENLINE_LINE_OPEN``,
``OPENLINE_MAX_WAIT_SECONDS``, ``OPENLINE_POSITION_ANNOUNCE_SECONDS``) and the wording below are
the line's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from app.core.db import is_batched
from app.core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.core.runtime import Runtime

log = logging.getLogger("openline.line")

REFRESH_SECONDS = 15
LANGUAGE = "en-GB"
# Twilio's British English voices for <Say> (Amazon Polly, standard and neural).
VOICES = {
    "Polly.Amy": "Amy (standard)",
    "Polly.Emma": "Emma (standard)",
    "Polly.Brian": "Brian (standard)",
    "Polly.Amy-Neural": "Amy (neural)",
    "Polly.Emma-Neural": "Emma (neural)",
    "Polly.Brian-Neural": "Brian (neural)",
    "Polly.Arthur-Neural": "Arthur (neural)",
}
DEFAULT_VOICE = "Polly.Amy"

# Said after every message that asks for a voicemail; not editable, so no wording an admin writes
# can leave a caller in danger without the emergency number.
SAFETY = "If you are in danger right now, please call 999."
GREETING = (
    "Thank you for calling the support line. Please stay on the line, "
    "and a listener will be with you as soon as they can."
)
CLOSED_MESSAGE = (
    "Our listeners cannot take calls at the moment. Please leave a message after the tone, "
    "with the best way to reach you, and someone will call you back."
)
VOICEMAIL_PROMPT = (
    "All our listeners are still busy. Please leave a message after the tone, "
    "with the best way to reach you, and someone will call you back."
)
POSITION_MARK = "{position}"
POSITION_WORDING = (
    "You are caller number {position}. Please stay on the line; a listener will be with you as soon as they can."
)


@dataclass(frozen=True)
class CallerWords:
    """What callers hear, spoken with ``<Say>`` in ``voice`` (British English)."""

    greeting: str = GREETING
    closed_message: str = CLOSED_MESSAGE
    voicemail_prompt: str = VOICEMAIL_PROMPT
    position_wording: str = POSITION_WORDING  # with {position} where the number goes
    voice: str = DEFAULT_VOICE

    def position(self, number: int) -> str:
        return self.position_wording.replace(POSITION_MARK, str(number))


Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class LineSettings:
    words: CallerWords = field(default_factory=CallerWords)
    max_wait_seconds: int = 600
    position_announce_seconds: int = 45
    # The admin's switch (OPENLINE_LINE_OPEN until saved): off, every caller is offered voicemail.
    taking_calls: bool = True
    # When the line is open (UTC, opening hours less closures) up to ``spans_until``; None: around
    # the clock. Worked out when loaded, so a webhook only compares times.
    open_spans: tuple[Span, ...] | None = None
    spans_until: datetime | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "LineSettings":
        return cls(
            max_wait_seconds=settings.max_wait_seconds,
            position_announce_seconds=settings.position_announce_seconds,
            taking_calls=settings.line_open,
        )

    def is_open(self, at: datetime) -> bool:
        if not self.taking_calls:
            return False
        if self.open_spans is None or self.spans_until is None or at >= self.spans_until:
            # Past what was worked out (the database unreachable for days): answer the caller; the
            # longest wait still sends them to voicemail if nobody is there.
            return True
        return any(start <= at < end for start, end in self.open_spans)


Loader = Callable[["Runtime", datetime], Awaitable[LineSettings]]


class LineCache:
    """One process's copy of the line settings. ``loader`` (set at start-up by the admin feature,
    which owns the table) reads them; without one the environment's settings stand."""

    def __init__(self, runtime: "Runtime") -> None:
        self.runtime = runtime
        self.loader: Loader | None = None
        self.snapshot = LineSettings.from_settings(runtime.settings)
        self.loaded_at: datetime | None = None
        self._lock = asyncio.Lock()

    def _fresh(self, now: datetime) -> bool:
        return self.loaded_at is not None and timedelta(0) <= now - self.loaded_at < timedelta(seconds=REFRESH_SECONDS)

    async def current(self, *, may_read: bool = True) -> LineSettings:
        now = self.runtime.clock.now()
        if self.loader is None or self._fresh(now) or not may_read:
            return self.snapshot
        if self._lock.locked() and self.loaded_at is not None:
            # Another request is re-reading: a webhook answers with the copy it has rather than wait.
            return self.snapshot
        async with self._lock:
            if not self._fresh(now):
                try:
                    self.snapshot = await self.loader(self.runtime, now)
                except Exception:
                    # Keep answering calls with what was last read; try again after the interval.
                    log.exception("could not read the line settings; keeping the last ones")
                self.loaded_at = now
        return self.snapshot

    def invalidate(self) -> None:
        """An admin saved: read again on the next call (after the save committed)."""
        self.loaded_at = None


async def line_settings(session: "AsyncSession") -> LineSettings:
    """The line settings now, from this process's copy (no query unless it is due a re-read).
    Never a re-read inside a batch of webhooks: the loader's own pooled connection could wait
    behind writers that are themselves waiting for the batch's SQLite lock; the writer refreshes
    the copy just before each batch instead."""
    return await session.info["runtime"].line.current(may_read=not is_batched(session))
