"""The event bus.

Two kinds of event, both queued on the session by service functions and released only after
the transaction commits (a rolled-back change never announces itself):

* **Domain events** (``emit``): ``call.answered``, ``call.ended``… Handlers registered by
  features at start-up run in this process, each in its own unit of work. This is how telephony
  tells sessions and transfers what happened without importing them.
* **Live events** (``publish_live``): rows in ``live_events`` written in the same transaction as
  the change, addressed to an audience (``user:7``, ``role:listener``, ``org:3``, ``all``). The
  SSE streams tail that table, so a browser that reconnects with ``Last-Event-ID`` misses
  nothing, and with PostgreSQL ``NOTIFY`` (delivered at commit) wakes every process's streams.
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
from app.core.jobs import RUN_AFTER_COMMIT, queue_job_now, run_job_now

if TYPE_CHECKING:
    from app.core.runtime import Runtime

log = logging.getLogger("openline.events")

LIVE_CHANNEL = "openline_live"
# Serialises transactions that write live events on PostgreSQL, so ids become visible in
# id order and a stream reading "id > last seen" can never skip a late-committing row.
LIVE_LOCK_KEY = 7_106_205


@dataclass(frozen=True)
class DomainEvent:
    name: str
    payload: dict[str, Any]


Handler = Callable[["Runtime", DomainEvent], Awaitable[None]]


class LiveEvent(Base):
    __tablename__ = "live_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    audience: Mapped[str] = mapped_column(sa.String(64), index=True)
    type: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


def emit(session: AsyncSession, name: str, **payload: Any) -> None:
    """Announce ``name`` once this transaction commits: in-process handlers then run (they may be
    lost to a crash), and every stored job following it (``JobRegistry.follow``) is written now,
    in this transaction, so it cannot be."""
    session.info.setdefault("domain_events", []).append(DomainEvent(name, payload))
    for kind, wanted in runtime_of(session).jobs.followers.get(name, ()):
        if wanted is None or wanted(payload):
            queue_job_now(session, kind=kind, payload=payload)


async def publish_live(session: AsyncSession, audience: str, type: str, data: dict[str, Any]) -> None:
    runtime = runtime_of(session)
    if is_postgres(session) and not session.info.get("live_lock"):
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LIVE_LOCK_KEY})
        session.info["live_lock"] = True
    # A Core INSERT … RETURNING: one round trip, none of the ORM's unit-of-work cost on hot webhooks.
    event_id = await session.scalar(
        sa.insert(LiveEvent)
        .values(audience=audience, type=type, data=data, created_at=runtime.clock.now())
        .returning(LiveEvent.id)
    )
    if is_postgres(session):
        await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": LIVE_CHANNEL, "p": str(event_id)})
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
        for key in ("domain_events", "live_written", "live_lock", RUN_AFTER_COMMIT):
            session.info.pop(key, None)

    async def flush(self, session: AsyncSession) -> None:
        """Called once the session's transaction has committed."""
        events: list[DomainEvent] = session.info.pop("domain_events", [])
        follow_ons: list[str] = session.info.pop(RUN_AFTER_COMMIT, [])
        session.info.pop("live_lock", None)
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


async def read_live_events(
    session: AsyncSession, audiences: Iterable[str], after_id: int, limit: int = 200
) -> list[LiveEvent]:
    stmt = (
        sa.select(LiveEvent)
        .where(LiveEvent.id > after_id, LiveEvent.audience.in_(list(audiences)))
        .order_by(LiveEvent.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


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
