"""The event bus.

Two kinds of event, both queued on the session by service functions and released only after
the transaction commits (a rolled-back change never announces itself):

* **Domain events** (``emit``): ``call.answered``, ``call.ended``… Handlers registered by
  features at start-up run in this process, each in its own unit of work. This is how telephony
  tells sessions and transfers what happened without importing them.
* **Live events** (``publish_live``): rows in ``live_events`` written in the same transaction as
  the change, addressed to an audience (``user:7``, ``role:listener``, ``org:3``, ``all``). The
  SSE streams tail that table, so a browser that reconnects with ``Last-Event-ID`` misses
  nothing, and with PostgreSQL one ``NOTIFY`` per transaction (delivered at commit) wakes every
  process's streams.

Order. On SQLite one transaction writes at a time, so ids are commit order. On PostgreSQL ids are
taken at INSERT and become visible at COMMIT, in another order, and a reader of "id > last seen"
could pass an id whose transaction has not committed yet and so never see it. Rather than
serialising every writer on one lock, each row notes its transaction (``txid``) and readers go in
(txid, id) order over rows whose transaction is older than every one still running
(``pg_snapshot_xmin``): no row can later appear before that point, so the replay is exact.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, is_postgres, runtime_of
from app.core.jobs import RUN_AFTER_COMMIT, cancel_jobs_at_commit, plan_job, queue_job_now, run_job_now

if TYPE_CHECKING:
    from app.core.runtime import Runtime

log = logging.getLogger("openline.events")

LIVE_CHANNEL = "openline_live"
# Flags kept on a session for its transaction.
LIVE_FLAGS = ("live_written", "live_notified")


@dataclass(frozen=True)
class DomainEvent:
    name: str
    payload: dict[str, Any]


Handler = Callable[["Runtime", DomainEvent], Awaitable[None]]


class LiveEvent(Base):
    __tablename__ = "live_events"
    __table_args__ = (sa.Index("ix_live_events_txid", "txid", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience: Mapped[str] = mapped_column(sa.String(64), index=True)
    type: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # The writing transaction's id on PostgreSQL (None on SQLite): the order streams read in.
    txid: Mapped[int | None] = mapped_column(sa.BigInteger)


LIVE_EVENTS: sa.Table = LiveEvent.__table__  # type: ignore[assignment]
CURRENT_TXID = sa.cast(sa.cast(sa.func.pg_current_xact_id(), sa.Text), sa.BigInteger)
# Built once: executed with fresh rows they skip SQLAlchemy's per-call statement work.
INSERT_LIVE = {
    "sqlite": sa.insert(LIVE_EVENTS),
    "postgresql": sa.insert(LIVE_EVENTS).values(txid=CURRENT_TXID),
}
NOTIFY_LIVE = text("SELECT pg_notify(:c, '')").bindparams(c=LIVE_CHANNEL)
# Everything older than the oldest transaction still running has finished: safe to pass.
SAFE_TXID = sa.cast(sa.cast(sa.func.pg_snapshot_xmin(sa.func.pg_current_snapshot()), sa.Text), sa.BigInteger)


@dataclass(frozen=True, order=True)
class LivePosition:
    """Where a stream has read to: (txid, id) on PostgreSQL, (0, id) on SQLite."""

    txid: int
    id: int


def emit(session: AsyncSession, name: str, **payload: Any) -> None:
    """Announce ``name`` once this transaction commits: in-process handlers then run (they may be
    lost to a crash), and every stored job following it (``JobRegistry.follow``) is written now,
    in this transaction, so it cannot be."""
    session.info.setdefault("domain_events", []).append(DomainEvent(name, payload))
    runtime = runtime_of(session)
    for kind, wanted in runtime.jobs.followers.get(name, ()):
        if wanted is None or wanted(payload):
            queue_job_now(session, kind=kind, payload=payload)
    for kind, plan in runtime.jobs.planners.get(name, ()):
        if (planned := plan(runtime, payload)) is not None:
            key, run_at, job_payload = planned
            plan_job(session, kind=kind, key=key, run_at=run_at, payload=job_payload)
    for prefix in runtime.jobs.cancellers.get(name, ()):
        if (key_prefix := prefix(payload)) is not None:
            cancel_jobs_at_commit(session, key_prefix)


async def publish_live(session: AsyncSession, audience: str, type: str, data: dict[str, Any]) -> None:
    await publish_live_to(session, (audience,), type, data)


async def publish_live_to(session: AsyncSession, audiences: Iterable[str], type: str, data: dict[str, Any]) -> None:
    """The same event to several audiences: one INSERT for all of them."""
    now = runtime_of(session).clock.now()
    rows = [dict(audience=audience, type=type, data=data, created_at=now) for audience in audiences]
    postgres = is_postgres(session)
    await session.execute(INSERT_LIVE["postgresql" if postgres else "sqlite"], rows)
    if postgres and not session.info.get("live_notified"):
        # Listeners re-read the table when woken, so one NOTIFY (sent at commit) is enough.
        await session.execute(NOTIFY_LIVE)
        session.info["live_notified"] = True
    session.info["live_written"] = True


@dataclass
class EventBus:
    handlers: dict[str, list[Handler]] = field(default_factory=lambda: defaultdict(list))
    runtime: "Runtime | None" = None
    _live_signal: asyncio.Condition | None = None
    _live_version: int = 0

    def subscribe(self, name: str, handler: Handler) -> None:
        self.handlers[name].append(handler)

    def discard(self, session: AsyncSession) -> None:
        for key in ("domain_events", *LIVE_FLAGS, RUN_AFTER_COMMIT):
            session.info.pop(key, None)

    async def flush(self, session: AsyncSession) -> None:
        """Called once the session's transaction has committed."""
        events: list[DomainEvent] = session.info.pop("domain_events", [])
        follow_ons: list[str] = session.info.pop(RUN_AFTER_COMMIT, [])
        session.info.pop("live_notified", None)
        if session.info.pop("live_written", False):
            await self.wake_streams()
        for event in events:
            await self.dispatch(event)
        for key in follow_ons:
            try:
                await run_job_now(self.runtime, key)
            except Exception:
                log.exception("follow-on job failed; the job loop will retry it", extra={"job": key})

    async def dispatch(self, event: DomainEvent) -> None:
        for handler in self.handlers.get(event.name, ()):
            try:
                await handler(self.runtime, event)
            except Exception:
                # The change that caused the event is already committed; a failing subscriber
                # must not turn Twilio's webhook into an error. It is logged for operators.
                log.exception("event handler failed", extra={"event": event.name})

    # Live-event wake-ups: streams wait here, then read the table.

    def _condition(self) -> asyncio.Condition:
        if self._live_signal is None:
            self._live_signal = asyncio.Condition()
        return self._live_signal

    async def wake_streams(self) -> None:
        condition = self._condition()
        async with condition:
            self._live_version += 1
            condition.notify_all()

    async def wait_for_live(self, seen_version: int, timeout: float) -> int:
        condition = self._condition()
        async with condition:
            if self._live_version == seen_version:
                try:
                    await asyncio.wait_for(condition.wait(), timeout)
                except TimeoutError:
                    pass
            return self._live_version

    @property
    def live_version(self) -> int:
        return self._live_version


async def live_position(session: AsyncSession, event_id: int) -> LivePosition:
    """The position just after the event a browser last saw (its ``Last-Event-ID``)."""
    txid = await session.scalar(sa.select(LIVE_EVENTS.c.txid).where(LIVE_EVENTS.c.id == event_id))
    if txid is None and is_postgres(session):
        # Purged by retention: the newest transaction at or before it is the nearest safe guess.
        txid = await session.scalar(sa.select(sa.func.max(LIVE_EVENTS.c.txid)).where(LIVE_EVENTS.c.id <= event_id))
    return LivePosition(txid or 0, event_id)


def _after(position: LivePosition, postgres: bool) -> list[sa.ColumnElement[bool]]:
    if not postgres:
        return [LIVE_EVENTS.c.id > position.id]
    return [
        sa.tuple_(LIVE_EVENTS.c.txid, LIVE_EVENTS.c.id) > sa.tuple_(sa.literal(position.txid), sa.literal(position.id)),
        LIVE_EVENTS.c.txid < SAFE_TXID,
    ]


def _order(postgres: bool) -> list[sa.ColumnElement[Any]]:
    return [LIVE_EVENTS.c.txid, LIVE_EVENTS.c.id] if postgres else [LIVE_EVENTS.c.id]


async def read_live_events(
    session: AsyncSession, audiences: Iterable[str], after: LivePosition | int, limit: int = 200
) -> list[LiveEvent]:
    """The events for ``audiences`` after ``after`` (a position, or an event id), in order; on
    PostgreSQL only those no still-running transaction can come before."""
    position = after if isinstance(after, LivePosition) else await live_position(session, after)
    postgres = is_postgres(session)
    stmt = (
        sa.select(LiveEvent)
        .where(*_after(position, postgres), LiveEvent.audience.in_(list(audiences)))
        .order_by(*_order(postgres))
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def live_events_held_back(session: AsyncSession, position: LivePosition) -> bool:
    """Whether rows after ``position`` exist that a running transaction keeps back (PostgreSQL):
    their stream should look again shortly rather than wait for the next notification."""
    if not is_postgres(session):
        return False
    stmt = sa.select(
        sa.exists().where(
            sa.tuple_(LIVE_EVENTS.c.txid, LIVE_EVENTS.c.id)
            > sa.tuple_(sa.literal(position.txid), sa.literal(position.id)),
            LIVE_EVENTS.c.txid >= SAFE_TXID,
        )
    )
    return bool(await session.scalar(stmt))


async def latest_live_position(session: AsyncSession) -> LivePosition:
    """The newest position a stream can start from, everything before it being settled."""
    postgres = is_postgres(session)
    stmt = sa.select(LIVE_EVENTS.c.txid, LIVE_EVENTS.c.id).order_by(*(c.desc() for c in _order(postgres))).limit(1)
    if postgres:
        stmt = stmt.where(LIVE_EVENTS.c.txid < SAFE_TXID)
    row = (await session.execute(stmt)).first()
    return LivePosition(row.txid or 0, row.id) if row is not None else LivePosition(0, 0)


async def latest_live_event_id(session: AsyncSession) -> int:
    return (await session.scalar(sa.select(sa.func.max(LiveEvent.id)))) or 0


class PostgresListener:
    """Listens on the live channel so a commit in another process wakes this process's streams.

    If the connection is lost (PostgreSQL restarted, a network blip) it reconnects with backoff;
    meanwhile, and once reconnected, streams are woken so they re-read what they may have missed.
    """

    RETRY_SECONDS = (0.5, 1, 2, 5, 10)

    def __init__(self, dsn: str, bus: EventBus):
        self.dsn = dsn
        self.bus = bus
        self._conn: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._stopped = False
        self.connections = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._connect()

    async def _connect(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        await conn.add_listener(LIVE_CHANNEL, self._on_notify)
        conn.add_termination_listener(self._on_lost)
        self._conn = conn
        self.connections += 1

    def _on_notify(self, *_args: Any) -> None:
        assert self._loop is not None
        self._loop.create_task(self.bus.wake_streams())

    def _on_lost(self, *_args: Any) -> None:
        if self._stopped or self._loop is None or (self._reconnecting and not self._reconnecting.done()):
            return
        log.warning("live-event listener lost its connection; reconnecting")
        self._reconnecting = self._loop.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        attempt = 0
        while not self._stopped:
            await self.bus.wake_streams()  # streams re-read now rather than at their next idle tick
            try:
                await self._connect()
            except Exception as exc:  # noqa: BLE001 - any failure to connect is retried
                delay = self.RETRY_SECONDS[min(attempt, len(self.RETRY_SECONDS) - 1)]
                log.warning(
                    "live-event listener reconnect failed",
                    extra={"error": type(exc).__name__, "retry_in_seconds": delay},
                )
                attempt += 1
                await asyncio.sleep(delay)
                continue
            log.info("live-event listener reconnected")
            await self.bus.wake_streams()
            return

    async def stop(self) -> None:
        self._stopped = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
