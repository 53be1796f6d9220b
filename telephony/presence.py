"""Listener presence: available, on-call, wrap-up, break, offline.

``current_call_id`` is what makes a listener "on a call": it is set when they take a caller and
cleared when that call ends or is handed back, and it guards against one listener holding two
callers at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.db import dialect_insert, dialect_name, insert_ignore, insert_of, runtime_of
from app.core.errors import Conflict, Unprocessable
from app.core.events import publish_live
from app.core.runtime import Runtime
from telephony.calls import ACTIVE_STATES
from telephony.events import LIVE_PRESENCE
from telephony.models import PRESENCE, Call, ListenerPresence, PresenceChange

# on-call is the system's to set: it follows the listener actually joining a caller's conference.
CHOOSABLE = ("available", "wrap-up", "break", "offline")
READY_CHECKS = "telephony.ready_for_next_caller"

ReadyCheck = Callable[[AsyncSession, int], Awaitable[None]]


def register_ready_check(runtime: Runtime, check: ReadyCheck) -> None:
    """What must be done before a listener takes another caller (their last call's log, say):
    each check raises (a 409 saying what is missing) or returns. Registered by features at start-up,
    so telephony need not know what a call log is."""
    runtime.extras.setdefault(READY_CHECKS, []).append(check)


async def check_ready_for_next(session: AsyncSession, *, listener_id: int) -> None:
    """Before taking the next caller, ringing someone back, or starting a callback."""
    for check in runtime_of(session).extras.get(READY_CHECKS, ()):
        await check(session, listener_id)


def _busy_call_ids() -> sa.Select:
    return sa.select(Call.id).where(Call.queue_state.in_(ACTIVE_STATES))


async def ensure_presence(session: AsyncSession, user_id: int) -> None:
    await insert_ignore(
        session,
        ListenerPresence,
        {"user_id": user_id, "status": "offline", "since": runtime_of(session).clock.now()},
        ["user_id"],
    )


async def show_presence(session: AsyncSession, *, user_id: int) -> dict[str, Any]:
    row = await session.get(ListenerPresence, user_id, populate_existing=True)
    if row is None:
        return {"status": "offline", "since": None, "current_call_id": None}
    return {"status": row.status, "since": row.since, "current_call_id": row.current_call_id}


async def change_presence(
    session: AsyncSession, *, user_id: int, status: str, by_listener: bool = False
) -> dict[str, Any]:
    """A listener sets their own presence; they cannot be 'available' while still on a call, nor
    (``by_listener``) while not ready for the next caller (the ready checks: their last call's
    log). The end of the wrap-up time makes them available whatever is left."""
    if status not in PRESENCE:
        raise Unprocessable("status", f"one of {', '.join(PRESENCE)}")
    if status not in CHOOSABLE:
        raise Unprocessable("status", "on-call is set when you join a caller")
    await ensure_presence(session, user_id)
    if by_listener and status == "available":
        await check_ready_for_next(session, listener_id=user_id)
    if status == "available" and await session.scalar(
        sa.select(ListenerPresence.user_id).where(
            ListenerPresence.user_id == user_id, ListenerPresence.current_call_id.in_(_busy_call_ids())
        )
    ):
        raise Conflict("you are still on a call; finish it before becoming available", error="on_call")
    await _write(session, user_id, status=status)
    return await show_presence(session, user_id=user_id)


async def hold_call_for(session: AsyncSession, *, user_id: int, call_id: int) -> bool:
    """Tie a claimed caller to the listener; False if they already hold another live call. One
    upsert: a listener seen for the first time gets their presence row with it."""
    held = {"holder": user_id, "held_call": call_id, "since": runtime_of(session).clock.now()}
    stmt = _hold_call_for(dialect_name(session))
    return (await session.scalar(stmt, held)) is not None


@cache
def _hold_call_for(dialect: str) -> sa.Insert:
    """Built once per database (the aliased guard is costly to build: each take-next paid for it)."""
    stmt = insert_of(dialect)(ListenerPresence).values(
        user_id=sa.bindparam("holder"),
        status="offline",
        since=sa.bindparam("since"),
        current_call_id=sa.bindparam("held_call"),
    )
    seen = aliased(ListenerPresence)
    held_before = sa.select(seen.current_call_id).where(seen.user_id == sa.bindparam("holder"))
    return stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={"current_call_id": stmt.excluded.current_call_id},
        where=sa.and_(
            sa.or_(
                ListenerPresence.current_call_id.is_(None), ListenerPresence.current_call_id.not_in(_busy_call_ids())
            ),
            # PostgreSQL: a take-next of the same listener committed while this one waited for the
            # row has just set the call they hold, but the subquery above still sees that call
            # as waiting (it reads the snapshot of this statement's start, the row its latest
            # version). That change shows as the row no longer matching the snapshot: refuse.
            ListenerPresence.current_call_id.is_not_distinct_from(held_before.scalar_subquery()),
        ),
    ).returning(ListenerPresence.user_id)


async def mark_on_call(session: AsyncSession, *, user_id: int, call_id: int) -> None:
    await _write(session, user_id, status="on-call", current_call_id=call_id)


async def release_listener(session: AsyncSession, *, user_id: int, call_id: int, status: str | None) -> None:
    """The call no longer holds the listener (it ended, or was handed back); ``status`` None keeps theirs."""
    current = await session.scalar(
        sa.select(ListenerPresence.current_call_id).where(ListenerPresence.user_id == user_id)
    )
    if current != call_id:
        return
    await _write(session, user_id, status=status, current_call_id=None)


async def _write(session: AsyncSession, user_id: int, *, status: str | None, **more: Any) -> None:
    now = runtime_of(session).clock.now()
    values: dict[str, Any] = dict(more)
    if status is not None:
        # "since" is how long someone has been on break or in wrap-up: re-saying it keeps the clock.
        values.update(
            status=status, since=sa.case((ListenerPresence.status != status, now), else_=ListenerPresence.since)
        )
    insert_values = {"user_id": user_id, "status": status or "offline", "since": now, **more}
    if status is not None:
        before = await session.scalar(sa.select(ListenerPresence.status).where(ListenerPresence.user_id == user_id))
        if before != status:
            session.add(PresenceChange(user_id=user_id, status=status, at=now))
    stmt = (
        dialect_insert(session, ListenerPresence)
        .values(**insert_values)
        .on_conflict_do_update(index_elements=["user_id"], set_=values)
    )
    await session.execute(stmt)
    if status is not None:
        change = {"user_id": user_id, "status": status}
        await publish_live(session, "role:supervisor", LIVE_PRESENCE, change)
        # The listener's own page too: the system changes it (on a call, wrap-up ending).
        await publish_live(session, f"user:{user_id}", LIVE_PRESENCE, change)
