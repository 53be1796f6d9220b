"""The unit of work for Twilio's webhooks: ``SessionDep``'s contract (commit before the answer is
sent; events released after commit), plus, on SQLite, one writer at a time within the process.

Every webhook writes, and SQLite has a single write lock. Left to contend for it, concurrent
transactions wait in SQLite's busy handler, which sleeps and retries (1, 2, 5 ... 100 ms): under a
burst of callbacks the slowest answers took seconds. Queueing the webhooks' transactions on an
asyncio lock first hands the database over in arrival order with no sleeping. PostgreSQL locks
rows, not the database, so there the lock is not taken.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import session_scope
from app.core.deps import RuntimeDep
from app.core.runtime import Runtime

LOCK_KEY = "telephony.sqlite_write_lock"


def sqlite_writer_lock(runtime: Runtime) -> contextlib.AbstractAsyncContextManager[object]:
    if not runtime.settings.is_sqlite:
        return contextlib.nullcontext()
    lock = runtime.extras.get(LOCK_KEY)
    if lock is None:
        lock = runtime.extras[LOCK_KEY] = asyncio.Lock()
    return lock


async def get_webhook_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with session_scope(runtime, lock=sqlite_writer_lock(runtime)) as session:
        yield session


WebhookSession = Annotated[AsyncSession, Depends(get_webhook_session, scope="function")]
