"""Timed support sessions: started when a listener joins a caller, warned and marked due by stored
jobs (so a restart loses none, and two job loops never fire one twice), ended with the call.

The timer never hangs up on a caller: the warning prompts the listener to start wrapping up or to
offer a warm transfer, and past due the session only shows as overrunning.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import insert_ignore, runtime_of
from app.core.errors import Conflict, NotFound
from app.core.events import publish_live
from app.core.jobs import Job, cancel_job, schedule_job
from app.core.runtime import Runtime
from app.core.security import User
from app.helpline.models import SupportSession
from app.shiftlead.alerts import overrun_alert_key, schedule_overrun_alert
from telephony.events import CALL_ANSWERED, CALL_ENDED, PARTICIPANT_LEFT
from telephony.lifecycle import ended_by_so_far
from telephony.models import Call, CallbackRequest, ListenerPresence
from telephony.presence import (
    change_presence,
    check_ready_for_next,
    mark_on_call,
    register_ready_check,
    release_listener,
)

WARNING, DUE, WRAP_UP = "session.warning", "session.due", "session.wrap_up_ends"


def session_times(started_at: datetime, minutes: int, warning_minutes: int) -> tuple[datetime, datetime]:
    """(warning_at, due_at): pure, so the browser and the jobs agree on one set of server times."""
    due = started_at + timedelta(minutes=minutes)
    return due - timedelta(minutes=warning_minutes), due


def describe_session(support: SupportSession, now: datetime, *, ended_by: str | None = None) -> dict[str, Any]:
    return {
        "id": support.id,
        "call_id": support.call_id,
        "listener_id": support.listener_id,
        "started_at": support.started_at.isoformat(),
        "warning_at": support.warning_at.isoformat(),
        "due_at": support.due_at.isoformat(),
        "ended_at": support.ended_at and support.ended_at.isoformat(),
        "overrun_seconds": support.overrun_seconds,
        "overrunning": support.ended_at is None and now >= support.due_at,
        "ended_by": ended_by,
        "now": now.isoformat(),
    }


async def start_session(
    session: AsyncSession,
    *,
    call_id: int | None,
    listener_id: int,
    started_at: datetime,
    callback_request_id: int | None = None,
) -> SupportSession:
    """One session per call, however often the answer is reported."""
    settings = runtime_of(session).settings
    warning_at, due_at = session_times(started_at, settings.session_minutes, settings.session_warning_minutes)
    if call_id is not None:
        await insert_ignore(
            session,
            SupportSession,
            dict(
                call_id=call_id,
                listener_id=listener_id,
                started_at=started_at,
                warning_at=warning_at,
                due_at=due_at,
                overrun_seconds=0,
                callback_request_id=callback_request_id,
            ),
            ["call_id"],
        )
        support = await session.scalar(sa.select(SupportSession).where(SupportSession.call_id == call_id))
    else:
        support = SupportSession(
            listener_id=listener_id,
            started_at=started_at,
            warning_at=warning_at,
            due_at=due_at,
            overrun_seconds=0,
            callback_request_id=callback_request_id,
        )
        session.add(support)
        await session.flush()
    assert support is not None
    await schedule_job(
        session,
        kind=WARNING,
        key=f"session-warning:{support.id}",
        run_at=support.warning_at,
        payload={"session_id": support.id},
    )
    await schedule_job(
        session, kind=DUE, key=f"session-due:{support.id}", run_at=support.due_at, payload={"session_id": support.id}
    )
    await schedule_overrun_alert(session, session_id=support.id, due_at=support.due_at)
    await publish_live(session, f"user:{listener_id}", "session.started", describe_session(support, started_at))
    return support


async def end_session(session: AsyncSession, *, support: SupportSession, ended_at: datetime) -> None:
    if support.ended_at is not None:
        return
    settings = runtime_of(session).settings
    support.ended_at = ended_at
    support.overrun_seconds = max(0, int((ended_at - support.due_at).total_seconds()))
    support.wrap_up_until = ended_at + timedelta(seconds=settings.wrap_up_seconds)
    await cancel_job(session, f"session-warning:{support.id}")
    await cancel_job(session, f"session-due:{support.id}")
    await cancel_job(session, overrun_alert_key(support.id))
    await schedule_job(
        session,
        kind=WRAP_UP,
        key=f"session-wrap-up:{support.id}",
        run_at=support.wrap_up_until,
        payload={"session_id": support.id, "listener_id": support.listener_id},
    )
    call = await session.get(Call, support.call_id) if support.call_id is not None else None
    ended_by = await ended_by_so_far(session, call) if call is not None else None
    await publish_live(
        session, f"user:{support.listener_id}", "session.ended", describe_session(support, ended_at, ended_by=ended_by)
    )


async def own_session(session: AsyncSession, session_id: int, user: User) -> SupportSession:
    """The session, if it is this listener's (supervisors may look at any). Another listener's is
    "no such session": ids are sequential, so a 403 would confirm that one exists."""
    support = await session.get(SupportSession, session_id)
    if support is None or (support.listener_id != user.id and user.role not in ("supervisor", "admin")):
        raise NotFound("no such session")
    return support


async def find_current_session(session: AsyncSession, *, listener_id: int) -> SupportSession | None:
    """The listener's running session, or None: no call running is a normal state, not an error."""
    return await session.scalar(
        sa.select(SupportSession)
        .where(SupportSession.listener_id == listener_id, SupportSession.ended_at.is_(None))
        .order_by(SupportSession.id.desc())
    )


async def start_callback_session(session: AsyncSession, *, callback_id: int, user: User) -> SupportSession:
    """A listener rings back someone who left a message (or whose line dropped): a session of its
    own, linked to the callback; starting it twice gives the one already running."""
    callback = await session.get(CallbackRequest, callback_id)
    if callback is None:
        raise NotFound("no such callback")
    if callback.claimed_by != user.id or callback.status != "claimed":
        raise Conflict("claim the callback before starting its session")
    existing = await session.scalar(
        sa.select(SupportSession)
        .where(SupportSession.callback_request_id == callback.id)
        .order_by(SupportSession.id.desc())
    )
    if existing is not None and existing.ended_at is None:
        return existing
    await check_ready_for_next(session, listener_id=user.id)
    support = await start_session(
        session,
        call_id=None,
        listener_id=user.id,
        started_at=runtime_of(session).clock.now(),
        callback_request_id=callback.id,
    )
    await mark_on_call(session, user_id=user.id, call_id=callback.call_id)
    return support


async def end_callback_session(session: AsyncSession, *, support: SupportSession) -> SupportSession:
    """Calls through the line end when Twilio says so; a callback ends when the listener says so."""
    if support.callback_request_id is None:
        raise Conflict("this session ends when the call does")
    if support.ended_at is None:
        callback = await session.get(CallbackRequest, support.callback_request_id)
        await end_session(session, support=support, ended_at=runtime_of(session).clock.now())
        await release_listener(session, user_id=support.listener_id, call_id=callback.call_id, status="wrap-up")
    return support


async def _fire_warning(session: AsyncSession, job: Job) -> None:
    support = await session.get(SupportSession, job.payload["session_id"])
    if support is None or support.ended_at is not None:
        return
    now = runtime_of(session).clock.now()
    support.warned_at = now
    await publish_live(
        session,
        f"user:{support.listener_id}",
        "session.warning",
        describe_session(support, now) | {"prompt": "Start wrapping up, or offer a warm transfer."},
    )


async def _fire_due(session: AsyncSession, job: Job) -> None:
    support = await session.get(SupportSession, job.payload["session_id"])
    if support is None or support.ended_at is not None:
        return
    now = runtime_of(session).clock.now()
    support.due_fired_at = now
    data = describe_session(support, now)
    await publish_live(session, f"user:{support.listener_id}", "session.due", data)
    await publish_live(session, "role:supervisor", "session.due", data)


async def _end_wrap_up(session: AsyncSession, job: Job) -> None:
    """Back to available, unless the listener chose something else meanwhile (a break, say)."""
    status = await session.scalar(
        sa.select(ListenerPresence.status).where(ListenerPresence.user_id == job.payload["listener_id"])
    )
    if status == "wrap-up":
        await change_presence(session, user_id=job.payload["listener_id"], status="available")


async def _on_answered(session: AsyncSession, job: Job) -> None:
    """Follows ``call.answered`` (a stored job written with the answer): the session starts."""
    await start_session(
        session,
        call_id=job.payload["call_id"],
        listener_id=job.payload["listener_id"],
        started_at=datetime.fromisoformat(job.payload["answered_at"]),
    )


async def _end_session_of_call(session: AsyncSession, call_id: int, ended_at: datetime) -> None:
    support = await session.scalar(sa.select(SupportSession).where(SupportSession.call_id == call_id))
    if support is None:
        return  # abandoned while waiting, or never answered: no session to end
    await end_session(session, support=support, ended_at=ended_at)


async def _on_ended(session: AsyncSession, job: Job) -> None:
    """Follows ``call.ended``: the caller's call is over, and so is their session."""
    await _end_session_of_call(session, job.payload["call_id"], datetime.fromisoformat(job.payload["ended_at"]))


def _listener_leaving(payload: dict[str, Any]) -> bool:
    return payload.get("role") == "listener"


async def _on_listener_left(session: AsyncSession, job: Job) -> None:
    """Follows a listener's ``participant.left``: a listener who leaves the caller's conference (a
    live handover, say) has finished their session, even though the caller's call goes on."""
    await _end_session_of_call(session, job.payload["call_id"], job.created_at)


def register(runtime: Runtime) -> None:
    from app.helpline.call_log import require_log_before_next  # the log imports sessions

    register_ready_check(runtime, require_log_before_next)
    runtime.jobs.register(WARNING, _fire_warning)
    runtime.jobs.register(DUE, _fire_due)
    runtime.jobs.register(WRAP_UP, _end_wrap_up)
    runtime.jobs.follow(
        CALL_ANSWERED, "session.start", _on_answered, when=lambda payload: payload.get("listener_id") is not None
    )
    # Only an answered call has a session (``_on_answered``); a caller who hung up waiting has none.
    runtime.jobs.follow(CALL_ENDED, "session.end", _on_ended, when=lambda payload: payload.get("answered") is not False)
    runtime.jobs.follow(PARTICIPANT_LEFT, "session.end_on_leaving", _on_listener_left, when=_listener_leaving)
