"""Live updates for the dashboards: one server-sent-events stream per signed-in person.

The stream tails the ``live_events`` table (written in the same transaction as each change, see
``app.core.events``), so what a browser sees is exactly what committed, in commit order. A
browser that drops off sends ``Last-Event-ID`` when it reconnects (EventSource does this by
itself) and is replayed everything it missed; a fresh connection first gets a ``hello`` naming
the newest id, which is the page's cue to load a snapshot of its state. With PostgreSQL a commit
in any process wakes every process's streams through ``NOTIFY``; a stream also re-reads every
``IDLE_SECONDS`` so that a lost notification only delays, never loses, an event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.core.deps import SESSION_KEY, CurrentUser, RuntimeDep
from app.core.events import (
    LivePosition,
    latest_live_event_id,
    latest_live_position,
    live_events_held_back,
    live_position,
    read_live_events,
)
from app.core.responses import DB_INT_MAX, error_responses
from app.core.runtime import Runtime
from app.core.security import User
from app.core.signin import find_signed_in_user

router = APIRouter(tags=["live"], responses=error_responses(401, 422))

IDLE_SECONDS = 15.0
RECONNECT_MILLISECONDS = 2000
HELD_BACK_SECONDS = 0.02


def audiences_for(user: User) -> list[str]:
    """Who this person is, as live-event audiences: their own events, their role's, their
    organisation's (partners), and everyone's. Nothing addressed to another person."""
    audiences = [f"user:{user.id}", f"role:{user.role}", "all"]
    if user.organisation_id is not None:
        audiences.append(f"org:{user.organisation_id}")
    return audiences


async def stream_live_events(
    runtime: Runtime,
    audiences: Iterable[str],
    after_id: int | None,
    *,
    idle_seconds: float = IDLE_SECONDS,
    still_signed_in: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """Every live event for ``audiences`` after ``after_id``, in order, for as long as it is read
    and ``still_signed_in`` says yes (asked at most every ``idle_seconds`` of the runtime clock):
    signing out, or an admin ending the session, also ends the stream.

    The database is read in short sessions, so an open stream holds no connection while it waits.
    """
    audiences = list(audiences)
    async with runtime.sessionmaker() as session:
        newest_id = await latest_live_event_id(session)
        if after_id is None or after_id > newest_id:
            # A first connection, or an id from before the database was rebuilt: start from now.
            position = await latest_live_position(session)
        else:
            position = await live_position(session, after_id)
    if after_id is None or after_id > newest_id:
        yield ServerSentEvent(
            event="hello", id=str(position.id), data=json.dumps({"last_id": position.id}), retry=RECONNECT_MILLISECONDS
        )
    checked = runtime.clock.now()
    while True:
        if still_signed_in is not None and (runtime.clock.now() - checked).total_seconds() >= idle_seconds:
            if not await still_signed_in():
                return
            checked = runtime.clock.now()
        version = runtime.bus.live_version
        async with runtime.sessionmaker() as session:
            events = await read_live_events(session, audiences, position)
            held_back = not events and await live_events_held_back(session, position)
        for event in events:
            position = LivePosition(event.txid or 0, event.id)
            yield ServerSentEvent(event=event.type, id=str(event.id), data=json.dumps(event.data))
        if not events:
            # Rows a running transaction keeps back are a few milliseconds from their turn: look
            # again soon (their writer's NOTIFY may already have come and gone).
            await runtime.bus.wait_for_live(version, HELD_BACK_SECONDS if held_back else idle_seconds)


@router.get(
    "/api/live",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-sent events: queue, presence, session timer, warm transfers.",
        }
    },
)
async def stream_live(
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=DB_INT_MAX)] = None,
    after: Annotated[int | None, Query(ge=0, le=DB_INT_MAX, description="Same as Last-Event-ID")] = None,
):
    """The signed-in person's live events. Reconnect with ``Last-Event-ID`` to receive what was
    missed; without it the stream starts with a ``hello`` event and then only new events."""
    start = last_event_id if last_event_id is not None else after
    token = request.session.get(SESSION_KEY) or ""

    async def still_signed_in() -> bool:
        async with runtime.sessionmaker() as session:  # read only: never committed
            return await find_signed_in_user(session, token) is not None

    return EventSourceResponse(
        stream_live_events(runtime, audiences_for(user), start, still_signed_in=still_signed_in),
        ping=IDLE_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
