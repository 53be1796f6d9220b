"""The unit of work for Twilio's webhooks: group commit.

Every webhook writes, and a transaction's fixed costs (a pooled connection, BEGIN, COMMIT, on
SQLite its one write lock) are most of what a small webhook costs. So a webhook, once its
signature and form are checked, hands its service function to this process's one writer, which
runs everything that is waiting in one transaction and answers each webhook only after that
commit: a 2xx still means "stored", and a burst of webhooks pays for one commit, not hundreds.

A delivery that fails rolls its batch back; the rest are written again without it, and it alone
in a transaction of its own, where it fails or succeeds exactly as it would have without
batching. If the commit itself fails every delivery of the batch is written alone. Nothing is
acknowledged that did not commit, so a ``kill -9`` at any moment loses only deliveries Twilio was
never told were stored.

On SQLite the writer holds the process's write lock only while the batch's transaction is open
(parsing, signatures and TwiML happen in the request, outside it), and takes SQLite's own lock at
BEGIN, waiting for it asynchronously, so a batch never waits half-way through for another
connection's write; its statements then run on the event loop's thread, not aiosqlite's (a few
microseconds each, against tens for the hop). The job loop's jobs take the same lock the same
way (``Runtime.short_write``), between batches. PostgreSQL locks rows, not the database: no
process lock there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import gather_before_commit, run_before_commit
from app.core.runtime import Runtime

log = logging.getLogger("openline.telephony")

WRITER_KEY = "telephony.webhook_writer"
# Enough to absorb a retry storm in a few commits; small enough that one batch's transaction
# (and so the first webhook's wait) stays a few milliseconds.
MAX_BATCH = 64
# The longest the writer waits, before a batch, for other writers queuing for SQLite's lock: a
# busy_timeout retry comes within 100 ms.
OTHERS_FIRST_SECONDS = 0.25

Work = Callable[..., Awaitable[Any]]
COMMIT_FAILED = object()


@dataclass(eq=False)
class Delivery:
    """One webhook's database work, waiting for the writer."""

    work: Work
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    result: Any = None

    async def run(self, session: AsyncSession) -> Any:
        return await self.work(session, *self.args, **self.kwargs)

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        if self.done.done():
            return
        if error is not None:
            self.done.set_exception(error)
        else:
            self.done.set_result(result)


class GroupCommit:
    """This process's single webhook writer. It runs only while there is work (no task outlives
    a burst), and batches form by themselves: what arrives while one batch commits is the next."""

    def __init__(self, runtime: Runtime, *, max_batch: int = MAX_BATCH):
        self.runtime = runtime
        self.max_batch = max_batch
        self.waiting: list[Delivery] = []
        self.task: asyncio.Task[None] | None = None
        self.releasing: set[asyncio.Task[None]] = set()
        self.batches = 0

    async def write(self, work: Work, *args: Any, **kwargs: Any) -> Any:
        """``work(session, *args, **kwargs)`` in the next batch; its result once that has committed."""
        delivery = Delivery(work, args, kwargs)
        self.waiting.append(delivery)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        # Shielded: a webhook whose client went away still has its delivery written (or not)
        # whole; only its answer is lost, and Twilio's retry gets the stored reply.
        return await asyncio.shield(delivery.done)

    async def _drain(self) -> None:
        while self.waiting:
            await self._let_others_write()
            batch, self.waiting = self.waiting[: self.max_batch], self.waiting[self.max_batch :]
            try:
                await self._write(batch)
            except BaseException as exc:
                for delivery in batch:
                    delivery.settle(error=exc)
                raise

    async def _let_others_write(self) -> None:
        """On SQLite, before the next batch, let in the process's other writers already queuing
        for SQLite's lock (a listener taking a call; jobs queue for the process's lock instead):
        the writer, back for the lock within a millisecond, would otherwise starve their
        ``busy_timeout`` retries under a steady stream of webhooks. Bounded, so that webhooks are
        never held for long."""
        waiting = self.runtime.writes_waiting
        if waiting is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + OTHERS_FIRST_SECONDS
        while waiting.count > 0 and loop.time() < deadline:
            await asyncio.sleep(0.002)

    async def _write(self, batch: list[Delivery]) -> None:
        """Commit the batch in one transaction. One delivery that fails rolls the transaction back:
        the others are written again without it (the same work on the same rows), and it alone, in
        a transaction of its own, to get the answer it would have had without company. Cheaper
        than a SAVEPOINT around each delivery, since failures are rare and a batch is small."""
        while batch:
            if len(batch) == 1:
                await self._write_alone(batch[0])
                return
            outcome = await self._try_batch(batch)
            if outcome is None:
                return
            if outcome is COMMIT_FAILED:
                log.error("webhook batch failed to commit; writing each delivery alone")
                for delivery in batch:
                    await self._write_alone(delivery, self.runtime.sessionmaker)
                return
            batch = [delivery for delivery in batch if delivery is not outcome]
            await self._write_alone(outcome, self.runtime.sessionmaker)

    @contextlib.asynccontextmanager
    async def _transaction(
        self, sessionmaker: async_sessionmaker[AsyncSession] | None = None
    ) -> AsyncIterator[AsyncSession]:
        """One of the writer's transactions, a batch's or a lone delivery's (``Runtime.short_write``:
        inline statements unless ``sessionmaker`` says otherwise): committed with its before-commit
        work on leaving, rolled back (its events dropped) on any error."""
        # Outside the locks: inside, the transaction reads nothing through another connection.
        await self.runtime.line.current()
        async with self.runtime.short_write(sessionmaker) as session:
            gather_before_commit(session)
            try:
                yield session
                await run_before_commit(session)
                await session.commit()
            except BaseException:
                await session.rollback()
                self.runtime.bus.discard(session)
                raise
        self.batches += 1

    async def _try_batch(self, batch: list[Delivery]) -> Delivery | object | None:
        """None once committed; else the delivery that raised, or COMMIT_FAILED."""
        failed: Delivery | object = COMMIT_FAILED
        try:
            async with self._transaction() as session:
                for delivery in batch:
                    failed = delivery
                    delivery.result = await delivery.run(session)
                failed = COMMIT_FAILED
        except Exception:
            return failed
        # The batch's after-commit work (event handlers, follow-on jobs, which may call Twilio)
        # runs beside the next batch, not in front of it; each webhook is still answered only
        # once its own batch's has run, as a lone request's would be.
        released = asyncio.create_task(self._release(session, batch))
        self.releasing.add(released)
        released.add_done_callback(self.releasing.discard)
        return None

    async def _release(self, session: AsyncSession, stored: list[Delivery]) -> None:
        try:
            await self.runtime.bus.flush(session)
        finally:
            for delivery in stored:
                delivery.settle(delivery.result)

    async def _write_alone(
        self, delivery: Delivery, sessionmaker: async_sessionmaker[AsyncSession] | None = None
    ) -> None:
        """One delivery in its own transaction: its error, if any, is its answer."""
        try:
            async with self._transaction(sessionmaker) as session:
                result = await delivery.run(session)
            await self.runtime.bus.flush(session)
        except Exception as exc:
            delivery.settle(error=exc)
        else:
            delivery.settle(result)


def webhook_writer(runtime: Runtime) -> GroupCommit:
    writer = runtime.extras.get(WRITER_KEY)
    if writer is None:
        writer = runtime.extras[WRITER_KEY] = GroupCommit(runtime)
    return writer
