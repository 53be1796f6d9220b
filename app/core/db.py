"""Database: async SQLAlchemy 2 on SQLite (embedded default) or PostgreSQL (production).

One request = one session that commits after the handler (``SessionDep``); jobs and the CLI use
``session_scope``. Services never commit: whoever opened the session owns the transaction, and
events the services queued are published only after that commit succeeds.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime
from functools import cache, partial
from typing import TYPE_CHECKING, Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy import MetaData, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.core.clock import as_utc

if TYPE_CHECKING:
    from app.core.runtime import Runtime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware, on both databases."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use the runtime clock, which is UTC-aware")
        moment = as_utc(value)
        # SQLite has no time zones: store naive UTC so text ordering is time ordering.
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: sa.JSON(), list[str]: sa.JSON()}


class IdMixin:
    id: Mapped[int] = mapped_column(primary_key=True)


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


class _InlineSQLite(aiosqlite.Connection):
    """aiosqlite's connection with its statements run on the event loop's own thread.

    aiosqlite hands every call (cursor, execute, fetch, close: about fifty for one incoming call)
    to its thread and back; on a small machine each round costs more than the statement itself, a
    write by key that SQLite does in microseconds. Only for short writes that never wait for a
    lock (``make_inline_sqlite_engine``): a long read here would stall every request."""

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def make_inline_sqlite_engine(url: str) -> AsyncEngine:
    """An engine for one writer's short transactions on SQLite, run without a thread hop per
    statement. Its connections never wait for SQLite's lock (``busy_timeout`` 0): the writer takes
    the lock with ``BEGIN IMMEDIATE`` and, if another connection holds it, waits asynchronously
    (``begin_immediate``), so the event loop is never blocked behind another writer."""

    async def connect() -> aiosqlite.Connection:
        # The file and flags SQLAlchemy's own aiosqlite dialect would open it with.
        args, params = engine.dialect.create_connect_args(engine.url)
        connection = _InlineSQLite(partial(sqlite3.connect, *args, **params), iter_chunk_size=64)
        connection._thread.daemon = True  # as that dialect does: opening and closing use the thread
        return await connection

    engine = create_async_engine(url, async_creator=connect)
    event.listen(engine.sync_engine, "connect", partial(_sqlite_pragmas, busy_ms=0))
    return engine


async def begin_immediate(session: AsyncSession, *, patience: float = 30.0) -> None:
    """Open this SQLite session's transaction holding the database's write lock (``BEGIN
    IMMEDIATE``), waiting for it without blocking the loop: up to ``patience`` seconds, as
    ``busy_timeout`` would, but another coroutine's transaction can finish meanwhile."""
    connection = await session.connection()
    loop = asyncio.get_running_loop()
    deadline, pause = loop.time() + patience, 0.001
    while True:
        try:
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except sa.exc.OperationalError as exc:
            if "locked" not in str(exc) or loop.time() >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)


class WritesWaiting:
    """Writing statements sent on an engine and not yet answered. On SQLite a connection that
    wants the write lock waits inside its first write (``busy_timeout``), so a count above zero
    means another unit of work (a listener's request, a job) is queuing for the lock."""

    def __init__(self, engine: AsyncEngine):
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)
        event.listen(engine.sync_engine, "handle_error", self._failed)

    def _before(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE") and not conn.info.get("writing"):
            conn.info["writing"] = True
            self.count += 1

    def _after(self, conn: Any, *_: Any) -> None:
        if conn.info.pop("writing", False):
            self.count -= 1

    def _failed(self, context: Any) -> None:
        if context.connection is not None:
            self._after(context.connection)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_ms: int = 30000) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine, runtime: "Runtime") -> async_sessionmaker[AsyncSession]:
    # The runtime rides on every session so a service function can reach the clock, the
    # cipher and the event queue from the one argument it is given.
    return async_sessionmaker(engine, expire_on_commit=False, info={"runtime": runtime})


def runtime_of(session: AsyncSession) -> "Runtime":
    return session.info["runtime"]


@asynccontextmanager
async def session_scope(runtime: "Runtime", *, lock: Any = None) -> AsyncIterator[AsyncSession]:
    """A unit of work: commit on success, roll back on error, then release its events.

    ``lock`` (an async context manager) is held for the transaction only, never while the events'
    handlers run after commit.
    """
    async with lock if lock is not None else nullcontext():
        async with runtime.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                runtime.bus.discard(session)
                raise
    await runtime.bus.flush(session)


# Work a batched transaction runs once, just before it commits, however many of its deliveries
# asked for it (``defer_until_commit``).
BEFORE_COMMIT = "before_commit"
SessionWork = Callable[[AsyncSession], Awaitable[Any]]


def gather_before_commit(session: AsyncSession) -> None:
    """This session's transaction batches many deliveries: let them defer what only the last needs."""
    session.info[BEFORE_COMMIT] = {}


def is_batched(session: AsyncSession) -> bool:
    """Whether this session is a batch of webhooks (``gather_before_commit``): on SQLite it holds
    the database's write lock, so it must not wait on another pooled connection."""
    return BEFORE_COMMIT in session.info


def defer_until_commit(session: AsyncSession, key: str, work: SessionWork) -> bool:
    """Leave ``work(session)`` until just before a batched transaction commits, once per ``key``
    (a snapshot of the queue that thirty new calls would otherwise each take and publish). False
    when the session is not batching: the caller does the work now."""
    pending = session.info.get(BEFORE_COMMIT)
    if pending is None:
        return False
    pending.setdefault(key, work)
    return True


async def run_before_commit(session: AsyncSession) -> None:
    for work in session.info.pop(BEFORE_COMMIT, {}).values():
        await work(session)


def dialect_name(session: AsyncSession) -> str:
    """The key a statement built once per database is cached under."""
    return "postgresql" if is_postgres(session) else "sqlite"


def insert_of(dialect: str):
    """The dialect's own INSERT, which knows ON CONFLICT on both databases."""
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


def dialect_insert(session: AsyncSession, table: sa.Table | type[Base]):
    """The session's database's own INSERT of ``table``."""
    return insert_of(dialect_name(session))(table)


@cache
def _insert_unless_present(dialect: str, table: sa.Table, keys: tuple[str, ...], returning: str | None) -> sa.Insert:
    stmt = insert_of(dialect)(table).on_conflict_do_nothing(index_elements=list(keys))
    return stmt.returning(table.c[returning]) if returning else stmt


def insert_unless_present(
    session: AsyncSession, table: sa.Table, *keys: str, returning: str | None = None
) -> sa.Insert:
    """INSERT ... ON CONFLICT (keys) DO NOTHING [RETURNING ...] for this session's database, built
    once per table: executed with each row's values it skips SQLAlchemy's per-call statement work
    (most of a hot webhook's database cost on a small machine)."""
    return _insert_unless_present(dialect_name(session), table, keys, returning)


async def insert_ignore(session: AsyncSession, model: type[Base], values: dict[str, Any], conflict: list[str]) -> bool:
    """Insert a row unless one with the same ``conflict`` key exists; True when this call inserted it."""
    result = await session.execute(insert_unless_present(session, model.__table__, *conflict), values)
    return bool(result.rowcount)


def is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"
