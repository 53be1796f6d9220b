"""Database: async SQLAlchemy 2 on SQLite (embedded default) or PostgreSQL (production).

One request = one session that commits after the handler (``SessionDep``); jobs and the CLI use
``session_scope``. Services never commit: whoever opened the session owns the transaction, and
events the services queued are published only after that commit succeeds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
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


def dialect_insert(session: AsyncSession, table: sa.Table | type[Base]):
    """The dialect's own INSERT, which knows ON CONFLICT DO NOTHING on both databases."""
    return postgresql_insert(table) if is_postgres(session) else sqlite_insert(table)


@cache
def _insert_unless_present(dialect: str, table: sa.Table, keys: tuple[str, ...], returning: str | None) -> sa.Insert:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=list(keys))
    return stmt.returning(table.c[returning]) if returning else stmt


def insert_unless_present(
    session: AsyncSession, table: sa.Table, *keys: str, returning: str | None = None
) -> sa.Insert:
    """INSERT ... ON CONFLICT (keys) DO NOTHING [RETURNING ...] for this session's database, built
    once per table: executed with each row's values it skips SQLAlchemy's per-call statement work
    (most of a hot webhook's database cost on a small machine)."""
    return _insert_unless_present("postgresql" if is_postgres(session) else "sqlite", table, keys, returning)


async def insert_ignore(session: AsyncSession, model: type[Base], values: dict[str, Any], conflict: list[str]) -> bool:
    """Insert a row unless one with the same ``conflict`` key exists; True when this call inserted it."""
    result = await session.execute(insert_unless_present(session, model.__table__, *conflict), values)
    return bool(result.rowcount)


def is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"
