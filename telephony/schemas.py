"""What the listener API returns. Callers appear only masked."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class CallerOut(BaseModel):
    id: int
    from_masked: str
    queue_state: str
    waiting_since: datetime | None
    waiting_seconds: int | None
    position: int | None = None
    listener_id: int | None = None
    claimed_at: datetime | None = None
    conference_name: str | None = None


class QueueOut(BaseModel):
    waiting: int
    longest_waiting_since: datetime | None
    longest_wait_seconds: int | None
    callers: list[CallerOut]


class PresenceIn(BaseModel):
    status: Literal["available", "on-call", "wrap-up", "break", "offline"]


class PresenceOut(BaseModel):
    status: str
    since: datetime | None
    current_call_id: int | None


class CallbackAttemptOut(BaseModel):
    started_at: datetime
    ended_at: datetime | None
    # None while the caller's phone rings; answered, no-answer, busy, failed, canceled,
    # voicemail (their answering machine: nothing was left on it) or hung-up.
    result: str | None


class CallbackOut(BaseModel):
    id: int
    call_id: int
    reason: str
    status: str
    urgent: bool
    from_masked: str
    has_recording: bool
    recording_seconds: int | None
    # The Openline path that plays the voicemail (for the listener who claimed it), never Twilio's URL.
    recording: str | None
    attempts: list[CallbackAttemptOut] = []
    created_at: datetime
    claimed_by: int | None
    claimed_at: datetime | None


class VoiceTokenOut(BaseModel):
    token: str
    identity: str
    ttl_seconds: int
    simulated: bool


class CallEndedOut(BaseModel):
    call_id: int
    ended: bool
