"""Wiring telephony into a runtime: its stored jobs and its event handlers."""

from __future__ import annotations

from datetime import timedelta

from app.core.runtime import Runtime
from telephony import ringback, survey
from telephony.conference import CONFERENCE_GAP_JOB, apply_events_after_gap
from telephony.dialing import expire_claim
from telephony.dialing import register as register_dialing
from telephony.events import CALL_ENDED
from telephony.lifecycle import CALLER_ALONE_JOB, CLAIM_TIMEOUT_JOB, OVERFLOW_JOB, overflow_key_prefix
from telephony.reconcile import RECONCILE_EVERY, reconcile_calls
from telephony.voicemail import overflow_waiting_caller, rescue_caller_left_alone
from telephony.voicemail import register as register_voicemail


def register(runtime: Runtime) -> None:
    # Retried for up to an hour: a caller must not wait forever because Twilio hiccupped.
    runtime.jobs.register(OVERFLOW_JOB, overflow_waiting_caller, give_up_after=timedelta(hours=1))
    # An ended call is never moved on to voicemail: its overflow jobs (the wait's, and any
    # nudge from the wait URL) go with it.
    runtime.jobs.cancel_on(CALL_ENDED, lambda payload: overflow_key_prefix(payload["call_id"]))
    runtime.jobs.register(CLAIM_TIMEOUT_JOB, expire_claim, give_up_after=timedelta(hours=1))
    runtime.jobs.register(CALLER_ALONE_JOB, rescue_caller_left_alone, give_up_after=timedelta(minutes=10))
    runtime.jobs.register(CONFERENCE_GAP_JOB, apply_events_after_gap, give_up_after=timedelta(hours=1))
    runtime.jobs.every("telephony.reconcile", RECONCILE_EVERY, reconcile_calls)
    register_dialing(runtime)
    register_voicemail(runtime)
    ringback.register(runtime)
    survey.register(runtime)  # the caller's own word: the text survey and its expiry
