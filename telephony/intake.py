"""Webhook intake: validate a delivery, and store each one exactly once.

Twilio retries, and callbacks arrive twice and out of order. Every delivery gets a dedupe key
(the ``I-Twilio-Idempotency-Token`` when Twilio sends one, otherwise CallSid + endpoint + event +
SequenceNumber); the first to store it applies the change and stores its reply, and any repeat
gets that stored reply and changes nothing.

Callers' numbers never reach ``WebhookDelivery.fields``: only an allowlist of fields is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import insert_unless_present, runtime_of
from app.core.errors import Unprocessable
from telephony.models import CALL_STATUSES
from telephony.statements import DELIVERIES, SET_OUTCOME, SET_OUTCOME_AND_REPLY, STORED_REPLY

# Fields that describe the call or event without identifying the caller. Everything else (From,
# To, Caller, Called, CallerName, the *City/*State/*Zip/*Country twins, ForwardedFrom,
# CallToken, RecordingUrl...) stays out of the delivery log.
KEPT_FIELDS = frozenset(
    {
        "CallSid",
        "AccountSid",
        "ApiVersion",
        "CallStatus",
        "Direction",
        "ParentCallSid",
        "SequenceNumber",
        "CallbackSource",
        "Timestamp",
        "CallDuration",
        "Duration",
        "SipResponseCode",
        "ErrorCode",
        "ErrorUrl",
        "ConferenceSid",
        "FriendlyName",
        "StatusCallbackEvent",
        "ParticipantLabel",
        "Hold",
        "Muted",
        "Coaching",
        "EndConferenceOnExit",
        "StartConferenceOnEnter",
        "ReasonConferenceEnded",
        "CallSidEndingConference",
        "RecordingSid",
        "RecordingDuration",
        "RecordingStatus",
        "QueueTime",
        "ReasonParticipantLeft",
        "ParticipantCallStatus",
        "CallSidToCoach",
    }
)
SID = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{1,62}$")
SEQUENCE = re.compile(r"^[0-9]{1,9}$")


@dataclass(frozen=True)
class Delivery:
    """One validated webhook request, ready to be recorded."""

    endpoint: str
    call_sid: str | None
    event: str
    sequence: int | None
    form: dict[str, str] = field(repr=False)
    token: str | None = None
    key_parts: tuple[str, ...] = ()

    @property
    def dedupe_key(self) -> str:
        if self.token:
            return f"{self.endpoint}:token:{self.token}"[:200]
        parts = (
            self.endpoint,
            self.call_sid or "-",
            self.event,
            *self.key_parts,
            "-" if self.sequence is None else str(self.sequence),
        )
        return ":".join(parts)[:200]

    @property
    def kept_fields(self) -> dict[str, str]:
        return {k: v[:200] for k, v in self.form.items() if k in KEPT_FIELDS}


def _problem(fields: list[dict[str, str]], name: str, message: str) -> None:
    fields.append({"field": name, "message": message})


def _sequence(form: dict[str, str], problems: list[dict[str, str]]) -> int | None:
    raw = form.get("SequenceNumber")
    if raw is None or raw == "":
        return None
    if not SEQUENCE.match(raw):
        _problem(problems, "SequenceNumber", "must be a whole number")
        return None
    return int(raw)


def _call_sid(form: dict[str, str], problems: list[dict[str, str]], *, required: bool) -> str | None:
    sid = form.get("CallSid")
    if not sid:
        if required:
            _problem(problems, "CallSid", "is required")
        return None
    if not SID.match(sid):
        _problem(problems, "CallSid", "is not a Twilio SID")
        return None
    return sid


def parse_call_webhook(
    form: dict[str, str],
    endpoint: str,
    *,
    token: str | None = None,
    status_required: bool = True,
    event: str | None = None,
    key_parts: tuple[str, ...] = (),
) -> Delivery:
    """A voice webhook about one call (incoming, status, wait, fallback, voicemail); 422 if malformed."""
    problems: list[dict[str, str]] = []
    call_sid = _call_sid(form, problems, required=True)
    status = form.get("CallStatus")
    if status is None and status_required:
        _problem(problems, "CallStatus", "is required")
    elif status is not None and status not in CALL_STATUSES:
        _problem(problems, "CallStatus", f"unknown status; one of {', '.join(CALL_STATUSES)}")
    sequence = _sequence(form, problems)
    if problems:
        raise Unprocessable(fields=problems)
    return Delivery(endpoint, call_sid, event or status or "-", sequence, form, token, key_parts)


def parse_conference_event(form: dict[str, str], *, token: str | None = None) -> Delivery:
    problems: list[dict[str, str]] = []
    event = form.get("StatusCallbackEvent", "")
    if not event or len(event) > 40:
        _problem(problems, "StatusCallbackEvent", "is required")
    if not form.get("FriendlyName") and not form.get("ConferenceSid"):
        _problem(problems, "FriendlyName", "FriendlyName or ConferenceSid is required")
    call_sid = _call_sid(form, problems, required=event.startswith("participant-"))
    sequence = _sequence(form, problems)
    if problems:
        raise Unprocessable(fields=problems)
    conference = form.get("ConferenceSid") or form.get("FriendlyName", "")
    return Delivery("conference", call_sid, event, sequence, form, token, (conference[:80],))


async def claim_delivery(
    session: AsyncSession, delivery: Delivery, *, reply: str, outcome: str = "applied"
) -> str | None:
    """Store the delivery; None when this is the first time, else the reply stored the first time."""
    values = dict(
        dedupe_key=delivery.dedupe_key,
        endpoint=delivery.endpoint,
        call_sid=delivery.call_sid,
        event=delivery.event[:40],
        sequence=delivery.sequence,
        fields=delivery.kept_fields,
        outcome=outcome,
        reply=reply,
        received_at=runtime_of(session).clock.now(),
    )
    if (await session.execute(insert_unless_present(session, DELIVERIES, "dedupe_key"), values)).rowcount:
        return None
    stored = await session.scalar(STORED_REPLY, {"key": delivery.dedupe_key})
    return stored or ""


async def record_outcome(session: AsyncSession, delivery: Delivery, outcome: str, *, reply: str | None = None) -> None:
    """Note what a stored delivery turned out to be (``stale``, ``orphan``...), and its reply if it changed."""
    params = {"key": delivery.dedupe_key, "outcome": outcome}
    if reply is None:
        await session.execute(SET_OUTCOME, params)
    else:
        await session.execute(SET_OUTCOME_AND_REPLY, params | {"reply": reply})
