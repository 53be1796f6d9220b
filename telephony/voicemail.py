"""Overflow to voicemail: a caller who has waited too long (or calls while the line is closed) can
leave a message, which becomes a callback request. Nobody waits forever and nobody meets a dead line.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.jobs import Job, RetryLater
from app.core.line import line_settings
from app.core.outbox import CallOut, call_out_after_commit, register_call_out
from app.core.runtime import Runtime
from telephony import twiml
from telephony.callbacks import ensure_callback_request
from telephony.calls import insert_call, lock_call, lock_call_by_sid
from telephony.intake import Delivery, claim_delivery, parse_call_webhook
from telephony.lifecycle import end_call, move_disconnected_to_voicemail, move_to_voicemail, schedule_overflow
from telephony.models import Call
from telephony.participants import someone_with_caller
from telephony.provider import ProviderRejected, redirect_call, retry_when_unavailable
from telephony.urls import webhook_url

log = logging.getLogger("openline.telephony")

REASONS = ("overflow", "line-closed", "disconnected")
REDIRECT_TO_VOICEMAIL = "telephony.redirect_to_voicemail"


def voicemail_reason(raw: str | None) -> str:
    return raw if raw in REASONS else "overflow"


def parse_voicemail_webhook(form: dict[str, str], *, token: str | None, recording_callback: bool) -> Delivery:
    """The voicemail URL serves three requests: the prompt (``offer``), the Record verb's action
    (``action``) and the recording status callback (``recording``)."""
    if recording_callback:
        event = "recording"
    elif form.get("RecordingSid") or form.get("RecordingUrl"):
        event = "action"
    else:
        event = "offer"
    recording = (form.get("RecordingSid") or "-")[:40]
    return parse_call_webhook(
        form,
        "voicemail",
        token=token,
        status_required=False,
        event=event,
        key_parts=(recording, (form.get("RecordingStatus") or "-")[:20]),
    )


async def receive_voicemail(session: AsyncSession, delivery: Delivery, *, reason: str | None) -> str:
    if delivery.event == "offer":
        return await offer_voicemail(session, delivery, reason=voicemail_reason(reason))
    return await save_voicemail(
        session, delivery, reason=voicemail_reason(reason), status_callback=delivery.event == "recording"
    )


async def _prepare_redirect(session: AsyncSession, payload: dict[str, Any]) -> dict[str, Any] | None:
    call = await session.get(Call, payload["call_id"], populate_existing=True)
    if call is None or call.queue_state != "voicemail" or call.ended_at is not None:
        return None  # the caller has gone, or already left their message
    return payload | {"call_sid": call.call_sid}


async def _redirect(runtime: Runtime, payload: dict[str, Any]) -> None:
    try:
        await redirect_call(
            runtime, payload["call_sid"], url=webhook_url(runtime.settings, "voicemail", reason=payload["reason"])
        )
    except ProviderRejected as exc:
        if not exc.call_gone:
            raise RetryLater(f"redirect refused ({exc.status})") from exc
        raise


async def _caller_gone(session: AsyncSession, payload: dict[str, Any], exc: Exception) -> None:
    """The caller hung up before the redirect: the call is closed, rather than left as a ghost.
    One still waiting (overflow) abandoned the queue, as any caller who hangs up while waiting."""
    call = await lock_call(session, Call.id == payload["call_id"])
    if call is not None:
        await end_call(session, call, before_voicemail=payload["reason"] == "overflow")


def send_to_voicemail(session: AsyncSession, call: Call, *, reason: str) -> None:
    """After this commits, move the live call to the voicemail prompt (the call is already in the
    ``voicemail`` state, so its leaving the conference does not end it)."""
    call_out_after_commit(session, REDIRECT_TO_VOICEMAIL, call_id=call.id, reason=reason)


async def overflow_waiting_caller(session: AsyncSession, job: Job) -> None:
    """The ``telephony.overflow`` job: a caller still waiting after ``max_wait_seconds`` is moved
    out of the queue to the voicemail prompt (their live call redirected, after this commits)."""
    call = await lock_call(session, Call.id == job.payload["call_id"])
    if call is None or call.queue_state != "waiting":
        return
    max_wait = timedelta(seconds=(await line_settings(session)).max_wait_seconds)
    if call.waiting_since is not None and runtime_of(session).clock.now() - call.waiting_since < max_wait:
        # An admin has lengthened the longest wait since this was scheduled: wait until then.
        await schedule_overflow(session, call_id=call.id, waiting_since=call.waiting_since)
        return
    await move_to_voicemail(session, call)
    send_to_voicemail(session, call, reason="overflow")
    log.info("caller moved to voicemail after the longest wait", extra={"call_id": call.id})


async def rescue_caller_left_alone(session: AsyncSession, job: Job) -> None:
    """The ``telephony.caller_alone`` job: the last person with the caller (listener, partner)
    dropped and nobody else is on the call. Rather than leave the caller in silence, apologise and
    take a message; it becomes an urgent callback (rung back before anyone else)."""
    call = await lock_call(session, Call.id == job.payload["call_id"])
    if call is None or call.queue_state != "connected" or call.ended_at is not None:
        return  # the call ended normally
    if await someone_with_caller(session, call.id):
        return  # someone is with the caller
    await move_disconnected_to_voicemail(session, call)
    send_to_voicemail(session, call, reason="disconnected")
    log.warning("the caller was left alone: offered a message and an urgent callback", extra={"call_id": call.id})


def register(runtime: Runtime) -> None:
    register_call_out(
        runtime,
        REDIRECT_TO_VOICEMAIL,
        CallOut(
            prepare=_prepare_redirect,
            send=retry_when_unavailable(_redirect),
            refused=_caller_gone,
            retry_base_seconds=5,
            give_up_after=timedelta(hours=1),
        ),
    )


async def offer_voicemail(session: AsyncSession, delivery: Delivery, *, reason: str) -> str:
    """The voicemail prompt, requested when the overflow job redirects a waiting call."""
    reply = twiml.offer_voicemail(runtime_of(session).settings, reason, (await line_settings(session)).words)
    if (stored := await claim_delivery(session, delivery, reply=reply)) is not None:
        return stored
    call = await lock_call_by_sid(session, delivery.call_sid)
    if call is None:
        await insert_call(session, delivery.form, queue_state="voicemail")
    else:
        await move_to_voicemail(session, call)
    return reply


async def save_voicemail(session: AsyncSession, delivery: Delivery, *, reason: str, status_callback: bool) -> str:
    """A recording is ready (the Record action, or its recording status callback): it becomes a
    callback request. Both may arrive; the request is made once and the recording filled in."""
    reply = twiml.empty() if status_callback else twiml.message_saved((await line_settings(session)).words)
    if (stored := await claim_delivery(session, delivery, reply=reply)) is not None:
        return stored
    call = await lock_call_by_sid(session, delivery.call_sid)
    if call is None:
        # A message from a call we never recorded (its first webhook failed): keep it all the same.
        await insert_call(session, delivery.form, queue_state="voicemail")
        call = await lock_call_by_sid(session, delivery.call_sid)
        assert call is not None
        log.warning("voicemail adopted for an unrecorded call", extra={"call_id": call.id})
    await move_to_voicemail(session, call)
    duration = delivery.form.get("RecordingDuration", "")
    await ensure_callback_request(
        session,
        call,
        reason=reason,
        recording_url=delivery.form.get("RecordingUrl") or None,
        recording_seconds=int(duration) if duration.isdigit() else None,
    )
    return reply
