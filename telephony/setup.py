"""Wiring telephony into a runtime: its stored jobs and its event handlers."""

from __future__ import annotations

from datetime import timedelta

from app.core.runtime import Runtime
from telephony.dialing import dial_claimed_listener, expire_claim, stop_ringing_listener
from telephony.events import CALL_CLAIMED, CALL_ENDED
from telephony.lifecycle import CLAIM_TIMEOUT_JOB, OVERFLOW_JOB
from telephony.voicemail import overflow_waiting_caller


def register(runtime: Runtime) -> None:
    # Retried for up to an hour: a caller must not wait forever because Twilio hiccupped.
    runtime.jobs.register(OVERFLOW_JOB, overflow_waiting_caller, give_up_after=timedelta(hours=1))
    runtime.jobs.register(CLAIM_TIMEOUT_JOB, expire_claim, give_up_after=timedelta(hours=1))
    runtime.bus.subscribe(CALL_CLAIMED, dial_claimed_listener)
    runtime.bus.subscribe(CALL_ENDED, stop_ringing_listener)
