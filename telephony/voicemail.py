"""Overflow to voicemail: a caller who has waited too long (or calls while the line is closed) can
leave a message, which becomes a callback request. Nobody waits forever and nobody meets a dead line.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.jobs import Job, RetryLater
from telephony import twiml
from telephony.callbacks import ensure_callback_request
from telephony.calls import insert_call, lock_call
from telephony.intake import Delivery, claim_delivery, parse_call_webhook
from telephony.lifecycle import end_call, move_disconnected_to_voicemail, move_to_voicemail
from telephony.models import Call
from telephony.participants import someone_with_caller
from telephony.provider import ProviderRejected, ProviderUnavailable, redirect_call
from telephony.urls import webhook_url

log = logging.getLogger("openline.telephony")

REASONS = ("overflow", "line-closed", "disconnected")


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
    return parse_call_webhook(form, "voicemail", token=token, status_required=False, event=event,
                              key_parts=(recording, (form.get("RecordingStatus") or "-")[:20]))


async def receive_voicemail(session: AsyncSession, delivery: Delivery, *, reason: str | None) -> str:
    if delivery.event == "offer":
        return await offer_voicemail(session, delivery, reason=voicemail_reason(reason))
    return await save_voicemail(session, delivery, reason=voicemail_reason(reason),
                                status_callback=delivery.event == "recording")


async def _redirect_to_voicemail(session: AsyncSession, call: Call, *, reason: str, refused_retry: float) -> bool:
    """Send a live call to the voicemail prompt. False if the caller had already gone (the call is
    closed now, rather than left as a ghost for a listener to take); Twilio trouble is retried."""
    runtime = runtime_of(session)
    try:
        await redirect_call(runtime, call.call_sid, url=webhook_url(runtime.settings, "voicemail", reason=reason))
    except ProviderRejected as exc:
        if exc.call_gone:
            await end_call(session, call)
            return False
        raise RetryLater(f"redirect refused ({exc.status})", delay_seconds=refused_retry) from exc
    except ProviderUnavailable as exc:
        raise RetryLater(str(exc), delay_seconds=5) from exc
    return True


async def overflow_waiting_caller(session: AsyncSession, job: Job) -> None:
    """The ``telephony.overflow`` job: move a caller still waiting after ``max_wait_seconds`` out of
    the queue to the voicemail prompt, by redirecting their live call."""
    call = await lock_call(session, Call.id == job.payload["call_id"])
    if call is None or call.queue_state != "waiting":
        return
    if await _redirect_to_voicemail(session, call, reason="overflow", refused_retry=30):
        await move_to_voicemail(session, call)
        log.info("caller moved to voicemail after the longest wait", extra={"call_id": call.id})


async def rescue_caller_left_alone(session: AsyncSession, job: Job) -> None:
    """The ``telephony.caller_alone`` job: the last person with the caller (listener, partner)
    dropped and nobody else is on the call. Rather than leave the caller in silence, apologise and take a message; it becomes an
    urgent callback (rung back before anyone else)."""
    call = await lock_call(session, Call.id == job.payload["call_id"])
    if call is None or call.queue_state != "connected" or call.ended_at is not None:
        return  # the call ended normally
    if await someone_with_caller(session, call.id):
        return  # someone is with the caller
    if await _redirect_to_voicemail(session, call, reason="disconnected", refused_retry=5):
        await move_disconnected_to_voicemail(session, call)
        log.warning("listener's line dropped: caller offered a message and an urgent callback",
                    extra={"call_id": call.id})


async def offer_voicemail(session: AsyncSession, delivery: Delivery, *, reason: str) -> str:
    """The voicemail prompt, requested when the overflow job redirects a waiting call."""
    reply = twiml.offer_voicemail(runtime_of(session).settings, reason)
    if (stored := await claim_delivery(session, delivery, reply=reply)) is not None:
        return stored
    call = await lock_call(session, Call.call_sid == delivery.call_sid)
    if call is None:
        await insert_call(session, delivery.form, queue_state="voicemail")
    else:
        await move_to_voicemail(session, call)
    return reply


async def save_voicemail(session: AsyncSession, delivery: Delivery, *, reason: str, status_callback: bool) -> str:
    """A recording is ready (the Record action, or its recording status callback): it becomes a
    callback request. Both may arrive; the request is made once and the recording filled in."""
    reply = twiml.empty() if status_callback else twiml.message_saved()
    if (stored := await claim_delivery(session, delivery, reply=reply)) is not None:
        return stored
    call = await lock_call(session, Call.call_sid == delivery.call_sid)
    if call is None:
        # A message from a call we never recorded (its first webhook failed): keep it all the same.
        await insert_call(session, delivery.form, queue_state="voicemail")
        call = await lock_call(session, Call.call_sid == delivery.call_sid)
        assert call is not None
        log.warning("voicemail adopted for an unrecorded call", extra={"call_id": call.id})
    await move_to_voicemail(session, call)
    duration = delivery.form.get("RecordingDuration", "")
    await ensure_callback_request(session, call, reason=reason, recording_url=delivery.form.get("RecordingUrl") or None,
                                  recording_seconds=int(duration) if duration.isdigit() else None)
    return reply
