"""Everything a running Openline needs, built once per process (or per test)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.clock import Clock
from app.core.crypto import Crypto
from app.core.db import WritesWaiting, make_engine, make_sessionmaker
from app.core.events import EventBus
from app.core.jobs import JobRegistry
from app.core.line import LineCache
from app.core.settings import Settings


@dataclass(eq=False)
class Runtime:
    settings: Settings
    clock: Clock
    engine: AsyncEngine = field(init=False)
    sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    crypto: Crypto = field(init=False)
    # On SQLite, the process's units of work queuing for the database's write lock (see
    # telephony/webhook_session.py: the webhook writer lets them in before its next batch).
    writes_waiting: WritesWaiting | None = field(init=False, default=None)
    bus: EventBus = field(default_factory=EventBus)
    jobs: JobRegistry = field(default_factory=JobRegistry)
    # The line's own settings (hours, longest wait, what callers hear), cached: see app/core/line.py.
    line: LineCache = field(init=False)
    # Features hang their own process-wide helpers here (e.g. the Twilio REST client).
    extras: dict[str, Any] = field(default_factory=dict)
    # What else to close with the runtime (a feature's own engine).
    on_close: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings.database_url)
        self.sessionmaker = make_sessionmaker(self.engine, self)
        if self.settings.is_sqlite:
            self.writes_waiting = WritesWaiting(self.engine)
        self.crypto = Crypto(self.settings.encryption_keys, hash_key=self.settings.hash_key)
        self.bus.runtime = self
        self.line = LineCache(self)

    async def close(self) -> None:
        for close in self.on_close:
            await close()
        await self.engine.dispose()
