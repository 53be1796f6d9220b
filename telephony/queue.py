"""The waiting-caller queue as listeners see it, and taking the next caller.

Longest wait first. A claim is one statement on both databases
(``lifecycle.claim_longest_waiting_call``: an UPDATE that picks the caller, re-checks they are
still waiting and returns them); PostgreSQL's pick skips callers locked by another claim
(``FOR UPDATE SKIP LOCKED``) so concurrent listeners do not queue behind one another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.errors import NotFound
from app.core.events import emit
from app.core.security import User
from telephony.calls import publish_queue, seconds_between
from telephony.dialing import ring_listener_who_took
from telephony.events import CALL_CLAIMED
from telephony.lifecycle import claim_longest_waiting_call, schedule_claim_timeout
from telephony.models import Call
from telephony.presence import check_ready_for_next

SHOWN_CALLERS = 100


def caller_out(call: Call, now: datetime, position: int | None = None) -> dict[str, Any]:
    return dict(
        id=call.id,
        from_masked=call.from_masked,
        queue_state=call.queue_state,
        waiting_since=call.waiting_since,
        waiting_seconds=seconds_between(call.waiting_since, now),
        position=position,
        listener_id=call.listener_id,
        claimed_at=call.claimed_at,
        conference_name=call.conference_name,
    )


async def take_next_caller(session: AsyncSession, *, listener: User) -> dict[str, Any]:
    """Claim the longest-waiting caller for this listener; their line is rung after commit
    (``call.claimed``). 404 ``nobody_waiting``; 409 ``already_on_call``."""
    now = runtime_of(session).clock.now()
    await check_ready_for_next(session, listener_id=listener.id)
    call = await claim_longest_waiting_call(session, listener_id=listener.id)
    if call is None:
        raise NotFound("nobody is waiting", error="nobody_waiting")
    await schedule_claim_timeout(session, call, now)
    await publish_queue(session)
    emit(session, CALL_CLAIMED, call_id=call.id, listener_id=listener.id)
    await ring_listener_who_took(session, call, listener)
    return caller_out(call, now)


async def describe_queue(session: AsyncSession) -> dict[str, Any]:
    now = runtime_of(session).clock.now()
    waiting = list(
        (
            await session.scalars(
                sa.select(Call)
                .where(Call.queue_state == "waiting")
                .order_by(Call.waiting_since, Call.id)
                .limit(SHOWN_CALLERS)
            )
        ).all()
    )
    total = await session.scalar(sa.select(sa.func.count()).where(Call.queue_state == "waiting"))
    oldest = waiting[0].waiting_since if waiting else None
    return dict(
        waiting=int(total or 0),
        longest_waiting_since=oldest,
        longest_wait_seconds=seconds_between(oldest, now) if oldest else None,
        callers=[caller_out(call, now, position) for position, call in enumerate(waiting, start=1)],
    )
