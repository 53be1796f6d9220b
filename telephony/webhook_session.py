"""The unit of work for Twilio's webhooks: group commit.

Every webhook writes, and a transaction's fixed costs (a pooled connection, BEGIN, COMMIT, on
SQLite its one write lock) are most of what a small webhook costs. So a webhook, once its
signature and form are checked, hands its service function to this process's one writer, which
runs everything that is waiting in one transaction and answers each webhook only after that
commit: a 2xx still means "stored", and a burst of webhooks pays for one commit, not hundreds.

Each delivery runs inside its own SAVEPOINT: one that fails is rolled back alone (its queued
events with it) and then retried in a transaction of its own, where it fails or succeeds exactly
as it would have without batching; its batch-mates commit regardless. If the commit itself fails
every delivery of the batch is retried alone. Nothing is acknowledged that did not commit, so a
``kill -9`` at any moment loses only deliveries Twilio was never told were stored.

On SQLite the writer holds the process's write lock only while the batch's transaction is open
(parsing, signatures and TwiML happen in the request, outside it), and takes SQLite's own lock at
BEGIN, so a batch never waits half-way through for another connection's write. PostgreSQL locks
rows, not the database: no process lock there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import is_postgres, session_scope
from app.core.deps import RuntimeDep
from app.core.runtime import Runtime

log = logging.getLogger("openline.telephony")

LOCK_KEY = "telephony.sqlite_write_lock"
WRITER_KEY = "telephony.webhook_writer"
# Enough to absorb a retry storm in a few commits; small enough that one batch's transaction
# (and so the first webhook's wait) stays a few milliseconds.
MAX_BATCH = 64

Work = Callable[..., Awaitable[Any]]


def sqlite_writer_lock(runtime: Runtime) -> contextlib.AbstractAsyncContextManager[object]:
    if not runtime.settings.is_sqlite:
        return contextlib.nullcontext()
    lock = runtime.extras.get(LOCK_KEY)
    if lock is None:
        lock = runtime.extras[LOCK_KEY] = asyncio.Lock()
    return lock


@dataclass(eq=False)
class Delivery:
    """One webhook's database work, waiting for the writer."""

    work: Work
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    result: Any = None
    failed: bool = False

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
            batch, self.waiting = self.waiting[: self.max_batch], self.waiting[self.max_batch :]
            try:
                await self._write(batch)
            except BaseException as exc:
                for delivery in batch:
                    delivery.settle(error=exc)
                raise

    async def _write(self, batch: list[Delivery]) -> None:
        runtime = self.runtime
        committed = False
        async with sqlite_writer_lock(runtime):
            async with runtime.sessionmaker() as session:
                try:
                    if not is_postgres(session):
                        # pysqlite would BEGIN only at the first INSERT, after our first SAVEPOINT,
                        # whose RELEASE would then commit on its own; BEGIN IMMEDIATE makes the
                        # batch one transaction and takes SQLite's write lock up front.
                        await (await session.connection()).exec_driver_sql("BEGIN IMMEDIATE")
                    if len(batch) == 1:
                        # Alone already: no SAVEPOINT to pay for, and its error is its answer.
                        batch[0].result = await batch[0].run(session)
                    else:
                        for delivery in batch:
                            await self._run_in_savepoint(session, delivery)
                    await session.commit()
                    committed = True
                except Exception as exc:
                    await session.rollback()
                    runtime.bus.discard(session)
                    if len(batch) == 1:
                        batch[0].settle(error=exc)
                        return
                    log.exception("webhook batch failed to commit; retrying each delivery alone")
        self.batches += 1
        if committed:
            # The batch's after-commit work (event handlers, follow-on jobs, which may call
            # Twilio) runs beside the next batch, not in front of it; each webhook is still
            # answered only once its own batch's has run, as a lone request's would be.
            released = asyncio.create_task(self._release(session, [d for d in batch if not d.failed]))
            self.releasing.add(released)
            released.add_done_callback(self.releasing.discard)
        for delivery in batch:
            if not committed or delivery.failed:
                await self._write_alone(delivery)

    async def _release(self, session: AsyncSession, stored: list[Delivery]) -> None:
        try:
            await self.runtime.bus.flush(session)
        finally:
            for delivery in stored:
                delivery.settle(delivery.result)

    async def _run_in_savepoint(self, session: AsyncSession, delivery: Delivery) -> None:
        mark = self.runtime.bus.mark(session)
        try:
            async with session.begin_nested():
                delivery.result = await delivery.run(session)
        except Exception:
            # Whatever it was (a 4xx, a deadlock, a constraint), only this delivery is undone;
            # alone, it will give the answer it would have given without a batch.
            self.runtime.bus.rewind(session, mark)
            delivery.failed = True

    async def _write_alone(self, delivery: Delivery) -> None:
        try:
            async with session_scope(self.runtime, lock=sqlite_writer_lock(self.runtime)) as session:
                result = await delivery.run(session)
        except Exception as exc:
            delivery.settle(error=exc)
        else:
            delivery.settle(result)


def webhook_writer(runtime: Runtime) -> GroupCommit:
    writer = runtime.extras.get(WRITER_KEY)
    if writer is None:
        writer = runtime.extras[WRITER_KEY] = GroupCommit(runtime)
    return writer


async def get_webhook_writer(runtime: RuntimeDep) -> GroupCommit:
    return webhook_writer(runtime)


WebhookWriter = Annotated[GroupCommit, Depends(get_webhook_writer)]
