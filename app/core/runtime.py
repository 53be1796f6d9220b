"""Everything a running Openline needs, built once per process (or per test)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.clock import Clock
from app.core.crypto import Crypto
from app.core.db import WritesWaiting, begin_immediate, make_engine, make_inline_sqlite_engine, make_sessionmaker
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
    # On SQLite, the engine and the process lock of ``short_write`` (made on first use).
    inline_engine: AsyncEngine | None = field(init=False, default=None)
    _inline_sessionmaker: async_sessionmaker[AsyncSession] | None = field(init=False, default=None)
    _write_lock: asyncio.Lock | None = field(init=False, default=None)
    _write_lock_holder: asyncio.Task[Any] | None = field(init=False, default=None)
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

    @contextlib.asynccontextmanager
    async def write_lock(self) -> AsyncIterator[None]:
        """On SQLite, the lock the process's short writes take turns by (``short_write``), which
        the task holding it may enter again (the job loop keeps it for a turn of several jobs,
        each in its own transaction); on PostgreSQL, which locks rows rather than the database,
        none."""
        task = asyncio.current_task()
        if not self.settings.is_sqlite or self._write_lock_holder is task:
            yield
            return
        if self._write_lock is None:
            # Made on first use, inside the event loop that will use it.
            self._write_lock = asyncio.Lock()
        async with self._write_lock:
            self._write_lock_holder = task
            try:
                yield
            finally:
                self._write_lock_holder = None

    @property
    def inline_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """On SQLite, sessions whose statements run on the event loop's thread, without a hop to
        aiosqlite's thread for each (``make_inline_sqlite_engine``); on PostgreSQL (asyncpg is
        already that), the process's own."""
        if not self.settings.is_sqlite:
            return self.sessionmaker
        if self._inline_sessionmaker is None:
            self.inline_engine = make_inline_sqlite_engine(self.settings.database_url)
            self._inline_sessionmaker = make_sessionmaker(self.inline_engine, self)
        return self._inline_sessionmaker

    @contextlib.asynccontextmanager
    async def short_write(
        self, sessionmaker: async_sessionmaker[AsyncSession] | None = None
    ) -> AsyncIterator[AsyncSession]:
        """A session for a short unit of work that writes and calls nothing outside the database
        (a batch of webhooks, a job); the caller commits or rolls back. On SQLite it holds the
        process's write lock and, from its first statement, SQLite's own (``BEGIN IMMEDIATE``,
        waited for without blocking the loop), so it never stalls half-way behind another writer
        and holds the database only for its own statements, run inline (``inline_sessionmaker``)
        unless another ``sessionmaker`` is given. On PostgreSQL, a session of the pool."""
        async with self.write_lock(), (sessionmaker or self.inline_sessionmaker)() as session:
            if self.settings.is_sqlite:
                await begin_immediate(session)
            yield session

    async def close(self) -> None:
        for close in self.on_close:
            await close()
        if self.inline_engine is not None:
            await self.inline_engine.dispose()
        await self.engine.dispose()
