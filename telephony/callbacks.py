"""Callback requests: a caller who could not be answered (voicemail, or the line closed) becomes
work for a listener, who claims it and rings them back. Nobody meets a dead line."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import dialect_insert, runtime_of
from app.core.errors import Conflict, NotFound, ServiceUnavailable
from app.core.events import emit, publish_live
from app.core.security import User
from telephony.events import CALLBACK_REQUESTED, LIVE_CALLBACKS
from telephony.models import Call, CallbackAttempt, CallbackRequest
from telephony.provider import ProviderError, ProviderRejected, open_recording

log = logging.getLogger("openline.telephony")

NO_MESSAGE = "no-message"
# A caller whose listener's line dropped mid-call: rung back before anyone else.
DISCONNECTED = "disconnected"


async def ensure_callback_request(
    session: AsyncSession,
    call: Call,
    *,
    reason: str,
    recording_url: str | None = None,
    recording_seconds: int | None = None,
) -> None:
    """One callback request per call; a recording arriving later fills in the one already there."""
    if reason == NO_MESSAGE and call.from_withheld:
        # No message and no number: there is nobody to ring back.
        return
    values = dict(
        call_id=call.id,
        reason=reason[:20],
        recording_url_encrypted=runtime_of(session).crypto.encrypt(recording_url and recording_url[:500]),
        recording_seconds=recording_seconds,
        status="open",
        urgent=reason == DISCONNECTED,
        created_at=runtime_of(session).clock.now(),
    )
    stmt = (
        dialect_insert(session, CallbackRequest)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["call_id"])
        .returning(CallbackRequest.id)
    )
    new_id = (await session.execute(stmt)).scalar()
    if new_id is None:
        if recording_url:
            await session.execute(
                sa.update(CallbackRequest)
                .where(CallbackRequest.call_id == call.id, CallbackRequest.recording_url_encrypted.is_(None))
                .values(
                    recording_url_encrypted=values["recording_url_encrypted"],
                    recording_seconds=recording_seconds,
                    reason=values["reason"],
                )
                .execution_options(synchronize_session=False)
            )
        return
    emit(session, CALLBACK_REQUESTED, callback_request_id=new_id, call_id=call.id, reason=values["reason"])
    await publish_callbacks(session)


async def publish_callbacks(session: AsyncSession) -> None:
    open_count = await session.scalar(sa.select(sa.func.count()).where(CallbackRequest.status == "open"))
    await publish_live(session, "role:listener", LIVE_CALLBACKS, {"open": int(open_count or 0)})
    await publish_live(session, "role:supervisor", LIVE_CALLBACKS, {"open": int(open_count or 0)})


RECORDING_PATH = "/api/listener/callbacks/{id}/recording"
ATTEMPTS_SHOWN = 10


def _callback_out(
    request: CallbackRequest, call: Call, *, with_recording: bool, attempts: list[dict[str, Any]]
) -> dict[str, Any]:
    has_recording = request.recording_url_encrypted is not None
    return dict(
        id=request.id,
        call_id=request.call_id,
        reason=request.reason,
        status=request.status,
        urgent=request.urgent,
        from_masked=call.from_masked,
        has_recording=has_recording,
        recording_seconds=request.recording_seconds,
        created_at=request.created_at,
        claimed_by=request.claimed_by,
        claimed_at=request.claimed_at,
        # Played through Openline (audited, with the account's credentials), never Twilio's URL:
        # only the listener who has claimed the callback is given the path.
        recording=RECORDING_PATH.format(id=request.id) if has_recording and with_recording else None,
        attempts=attempts if with_recording else [],
    )


async def _attempts_by_callback(session: AsyncSession, callback_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each callback's ring-backs, newest first: when, and how it went (None while ringing)."""
    found: dict[int, list[dict[str, Any]]] = {}
    if not callback_ids:
        return found
    rows = (
        await session.scalars(
            sa.select(CallbackAttempt)
            .where(CallbackAttempt.callback_request_id.in_(callback_ids))
            .order_by(CallbackAttempt.started_at.desc(), CallbackAttempt.id.desc())
            .execution_options(populate_existing=True)
        )
    ).all()
    for attempt in rows:
        shown = found.setdefault(attempt.callback_request_id, [])
        if len(shown) < ATTEMPTS_SHOWN:
            shown.append(dict(started_at=attempt.started_at, ended_at=attempt.ended_at, result=attempt.result))
    return found


async def list_callback_requests(session: AsyncSession, *, user_id: int) -> list[dict[str, Any]]:
    """Open callbacks (urgent first, then oldest), and the ones this listener has claimed."""
    stmt = (
        sa.select(CallbackRequest, Call)
        .join(Call, Call.id == CallbackRequest.call_id)
        .where(
            sa.or_(
                CallbackRequest.status == "open",
                sa.and_(CallbackRequest.status == "claimed", CallbackRequest.claimed_by == user_id),
            )
        )
        .order_by(CallbackRequest.urgent.desc(), CallbackRequest.created_at, CallbackRequest.id)
        .limit(200)
    )
    rows = (await session.execute(stmt)).all()
    attempts = await _attempts_by_callback(session, [request.id for request, _ in rows])
    return [
        _callback_out(
            request, call, with_recording=request.claimed_by == user_id, attempts=attempts.get(request.id, [])
        )
        for request, call in rows
    ]


async def claim_callback_request(session: AsyncSession, *, callback_id: int, user_id: int) -> dict[str, Any]:
    """Exactly one listener wins a callback: a conditional update, checked by its row count."""
    now = runtime_of(session).clock.now()
    result = await session.execute(
        sa.update(CallbackRequest)
        .where(CallbackRequest.id == callback_id, CallbackRequest.status == "open")
        .values(status="claimed", claimed_by=user_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        exists = await session.scalar(sa.select(CallbackRequest.id).where(CallbackRequest.id == callback_id))
        if exists is None:
            raise NotFound("no such callback request")
        raise Conflict("another listener has already claimed this callback", error="already_claimed")
    await publish_callbacks(session)
    return await describe_callback_request(session, callback_id, user_id)


async def complete_callback_request(session: AsyncSession, *, callback_id: int, user_id: int) -> dict[str, Any]:
    result = await session.execute(
        sa.update(CallbackRequest)
        .where(
            CallbackRequest.id == callback_id,
            CallbackRequest.status == "claimed",
            CallbackRequest.claimed_by == user_id,
        )
        .values(status="done")
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        raise NotFound("no callback request claimed by you with that id")
    return await describe_callback_request(session, callback_id, user_id)


async def describe_callback_request(session: AsyncSession, callback_id: int, user_id: int) -> dict[str, Any]:
    request, call = (
        await session.execute(
            sa.select(CallbackRequest, Call)
            .join(Call, Call.id == CallbackRequest.call_id)
            .where(CallbackRequest.id == callback_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    attempts = await _attempts_by_callback(session, [callback_id])
    return _callback_out(
        request, call, with_recording=request.claimed_by == user_id, attempts=attempts.get(callback_id, [])
    )


async def open_voicemail(session: AsyncSession, *, callback_id: int, user: User) -> httpx.Response:
    """Start playing a callback's voicemail, for the listener who claimed it or a supervisor;
    every play is audited (who, which callback; never the recording's URL). The recording is
    requested before the audit is written, so no transaction waits on Twilio."""
    request = await session.get(CallbackRequest, callback_id)
    allowed = request is not None and (request.claimed_by == user.id or user.role in ("supervisor", "admin"))
    if request is None or not allowed or request.recording_url_encrypted is None:
        raise NotFound("no voicemail you can play with that id")
    url = runtime_of(session).crypto.decrypt(request.recording_url_encrypted) or ""
    try:
        upstream = await open_recording(runtime_of(session), url)
    except ProviderRejected as exc:
        log.warning("voicemail recording refused", extra={"callback_id": callback_id, "status": exc.status})
        raise NotFound("this voicemail is no longer available", error="recording_gone") from exc
    except ProviderError as exc:
        raise ServiceUnavailable("the voicemail could not be fetched just now; try again in a moment") from exc
    try:
        await record_audit(
            session,
            actor=f"user:{user.username}",
            action="voicemail.played",
            subject_type="callback_request",
            subject_id=callback_id,
        )
    except BaseException:
        await upstream.aclose()
        raise
    return upstream
