"""A third party on the caller's line: a partner's live line (a live warm transfer) or a crisis
line dialled into the caller's conference, then either handed the caller or, when it is busy,
fails or does not answer, stopped with the caller back with the listener.

What is dialled and why is the caller's business (``transfers/live_transfer.py``,
``app/shiftlead/crisis.py``); these are the Twilio steps both take, each made from an
``app.core.outbox`` call-out after its transaction commits. The third party's leg reports on the
partner leg's status callback (``?leg=partner&label=...``), so busy, failed and no-answer arrive as
``call.leg_ended`` and its joins and leaves as participant events carrying the label.
"""

from __future__ import annotations

import logging

from app.core.runtime import Runtime
from telephony.conference import LISTENER_LABEL
from telephony.models import Call
from telephony.participants import conference_sid_of, hold_in_conference, remove_from_conference
from telephony.provider import ProviderRejected, add_participant, hang_up_call
from telephony.urls import webhook_url

log = logging.getLogger("openline.telephony")

_NOT_CONNECTED = {"busy": "busy", "failed": "failed"}


def not_connected_state(status: str) -> str:
    """Pure: a leg's final Twilio status that never joined, in the helpline's words."""
    return _NOT_CONNECTED.get(status, "no-answer")


def labelled(prefix: str, number: int) -> str:
    return f"{prefix}{number}"


def number_of_label(prefix: str, label: str | None) -> int | None:
    """Pure: the record a participant label names (``partner-12`` -> 12), or None."""
    label = label or ""
    suffix = label.removeprefix(prefix)
    return int(suffix) if label.startswith(prefix) and suffix.isdigit() else None


async def dial_into_call(
    runtime: Runtime, call: Call, *, number: str, label: str, ring_seconds: int, hold_caller: bool
) -> str:
    """Ring ``number`` into the caller's conference (holding the caller first if asked); the leg's SID."""
    if hold_caller:
        await hold_in_conference(runtime, call, call.call_sid, hold=True)
    leg = await add_participant(
        # By SID: a conference that ended meanwhile is refused, never opened anew for the third party alone.
        runtime,
        await conference_sid_of(runtime, call),
        to=number,
        label=label,
        # Busy, failed or no answer comes back on this URL at once: the caller is not kept waiting
        # for the rest of the ring time.
        status_callback=webhook_url(runtime.settings, "status", leg="partner", call=call.id, label=label),
        # The third party must not end the caller's call by leaving; the caller still does.
        start_conference_on_enter=True,
        end_conference_on_exit=False,
        ring_seconds=ring_seconds,
    )
    return leg.call_sid


async def release_caller(runtime: Runtime, call: Call, *, ringing_leg: str | None) -> None:
    """No handover: a line still ringing is stopped and the caller comes off hold, with the listener."""
    if ringing_leg:
        try:
            await hang_up_call(runtime, ringing_leg)
        except ProviderRejected as exc:  # most often the line had already rung out
            log.info("third party's leg not hung up", extra={"call_id": call.id, "error": str(exc)})
    await hold_in_conference(runtime, call, call.call_sid, hold=False)


async def hand_over_call(runtime: Runtime, call: Call, *, listener_stays: bool = False) -> None:
    """The third party is briefed: the caller off hold, then the listener leaves (unless staying on)."""
    await hold_in_conference(runtime, call, call.call_sid, hold=False)
    if not listener_stays:
        await remove_from_conference(runtime, call, LISTENER_LABEL)
