"""The simulated Twilio: its calls and conferences, and the webhooks it sends about them.

It sends what Twilio sends: the same form fields, signed with the account's auth token exactly
as Twilio signs them, to the URLs the app configured (the number's voice and status URLs, the
conference's ``statusCallback`` and ``waitUrl`` from the TwiML, a participant's
``statusCallback``). Requests Twilio makes while a caller waits for the answer (the voice URL,
the wait URL, a ``<Record>`` action) are made at once and their TwiML followed; callbacks go to an
outbox delivered by ``deliver()`` (tests, optionally duplicated and shuffled) or by ``pump()``
(a running simulator). REST requests from the app only ever add to the outbox, never call the app
back while it waits for the REST answer, just as Twilio answers first and calls back later.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from twilio.request_validator import RequestValidator

from app.core.clock import Clock
from app.core.settings import Settings

log = logging.getLogger("openline.simulator")

API_VERSION = "2010-04-01"
LINE_NUMBER = "+441234000000"
CALLER_STATUS_EVENTS = ("ringing", "in-progress", "completed")


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class SimCall:
    sid: str
    from_: str
    to: str
    direction: str
    status: str = "ringing"
    status_callback: str | None = None
    status_events: tuple[str, ...] = ()
    next_sequence: int = 0
    conference: str | None = None
    label: str | None = None
    record_action: str | None = None
    recording_callback: str | None = None
    heard: list[str] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "busy", "failed", "no-answer", "canceled")


@dataclass
class SimParticipant:
    call_sid: str
    label: str | None
    start_on_enter: bool
    end_on_exit: bool
    hold: bool = False
    muted: bool = False


@dataclass
class SimConference:
    name: str
    sid: str
    status_callback: str | None
    events: frozenset[str]
    wait_url: str | None
    participants: dict[str, SimParticipant] = field(default_factory=dict)
    started: bool = False
    ended: bool = False
    next_sequence: int = 0


@dataclass
class Outgoing:
    """One request Twilio owes the app. ``follow`` means its answer is TwiML for ``call_sid``."""

    url: str
    params: dict[str, str]
    call_sid: str | None = None
    follow: str | None = None
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class Sent:
    url: str
    params: dict[str, str]
    status: int
    body: str


class SimulatedTwilio:
    """Calls, conferences and the outbox. ``telephony.simulator.Simulator`` adds the REST API."""

    def __init__(self, *, account_sid: str, auth_token: str, public_url: str, clock: Clock | None = None,
                 webhook_transport: httpx.AsyncBaseTransport | None = None, webhook_base: str | None = None,
                 idempotency_tokens: bool = True, seed: int | None = None):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.public_url = public_url.rstrip("/")
        self.webhook_base = webhook_base.rstrip("/") if webhook_base else None
        self.voice_url = self.public_url + "/telephony/voice/incoming"
        self.fallback_url = self.public_url + "/telephony/voice/fallback"
        self.status_url = self.public_url + "/telephony/voice/status"
        self.clock = clock or Clock()
        self.validator = RequestValidator(auth_token)
        self.idempotency_tokens = idempotency_tokens
        self.rng = random.Random(seed)
        self.http = httpx.AsyncClient(transport=webhook_transport, timeout=15.0)
        self.calls: dict[str, SimCall] = {}
        self.conferences: dict[str, SimConference] = {}
        self.outbox: list[Outgoing] = []
        self.sent: list[Sent] = []
        self.rest_requests: list[dict[str, Any]] = []
        self.messages: list[dict[str, str]] = []
        # Targets (e.g. "client:listener-3") that let their line ring out instead of answering,
        # and targets that keep ringing until ``answer_ringing()``.
        self.unanswered: set[str] = set()
        self.slow_to_answer: set[str] = set()
        self.ringing: list[Any] = []
        self.answer_delay_seconds = 0.0
        # Practice mode: ``client:`` legs ring until the practice headset answers (simulator/headsets.py).
        self.headsets_ring = False
        self._wake = asyncio.Event()

    @classmethod
    def settings_kwargs(cls, settings: Settings) -> dict[str, Any]:
        return dict(account_sid=settings.twilio_account_sid,
                    auth_token=settings.twilio_auth_token.get_secret_value(), public_url=settings.public_url)

    async def close(self) -> None:
        await self.http.aclose()

    # Sending

    def now(self) -> datetime:
        return self.clock.now()

    def sign(self, url: str, params: dict[str, str]) -> str:
        return self.validator.compute_signature(url, params)

    async def post(self, item: Outgoing) -> Sent:
        headers = {"X-Twilio-Signature": self.sign(item.url, item.params)}
        if self.idempotency_tokens:
            headers["I-Twilio-Idempotency-Token"] = item.token
        target = item.url
        if self.webhook_base:
            # Behind a proxy: signed for the public URL, delivered to the address the app listens on.
            parts = urlsplit(target)
            target = self.webhook_base + parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            response = await self.http.post(target, data=item.params, headers=headers)
            sent = Sent(item.url, item.params, response.status_code, response.text)
        except httpx.HTTPError as exc:
            sent = Sent(item.url, item.params, 0, f"{type(exc).__name__}: {exc}")
        self.sent.append(sent)
        if sent.status >= 400 or sent.status == 0:
            log.warning("webhook answered %s: %s", sent.status, item.url)
        return sent

    def enqueue(self, item: Outgoing) -> None:
        self.outbox.append(item)
        self._wake.set()

    async def deliver(self, *, duplicate: bool = False, shuffle: bool = False, rounds: int = 100) -> list[Sent]:
        """Send everything owed, including what the answers lead to. ``duplicate`` sends each
        request twice (as a Twilio retry would, with the same idempotency token); ``shuffle``
        sends each round's requests in random order (callbacks carry no ordering guarantee)."""
        sent: list[Sent] = []
        for _ in range(rounds):
            if not self.outbox:
                break
            batch, self.outbox = self.outbox, []
            if shuffle:
                self.rng.shuffle(batch)
            for item in batch:
                first = await self.post(item)
                sent.append(first)
                if duplicate:
                    sent.append(await self.post(item))
                if item.follow and item.call_sid:
                    self.follow(self.calls[item.call_sid], first, kind=item.follow)
        return sent

    async def pump(self, stop: asyncio.Event) -> None:
        """Deliver the outbox as it fills, until ``stop`` is set (a running simulator)."""
        while not stop.is_set():
            self._wake.clear()
            if self.outbox:
                await self.deliver()
                continue
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, stopper):
                task.cancel()

    # Fields Twilio posts

    def call_params(self, call: SimCall, **extra: str) -> dict[str, str]:
        params = {
            "CallSid": call.sid, "AccountSid": self.account_sid, "From": call.from_, "To": call.to,
            "Caller": call.from_, "Called": call.to, "CallStatus": call.status, "ApiVersion": API_VERSION,
            "Direction": call.direction, "ForwardedFrom": "", "CallerName": "", "ParentCallSid": "",
            "CallToken": "", "FromCountry": "GB", "FromCity": "", "ToCountry": "GB",
        }
        params.update(extra)
        return params

    def queue_status(self, call: SimCall, status: str, **extra: str) -> None:
        call.status = status
        if not call.status_callback:
            return
        event = "answered" if status == "in-progress" else status
        final = call.ended
        if status not in call.status_events and event not in call.status_events and not final:
            return
        sequence = call.next_sequence
        call.next_sequence += 1
        params = self.call_params(call, SequenceNumber=str(sequence), CallbackSource="call-progress-events",
                                  Timestamp=format_datetime(self.now(), usegmt=True), **extra)
        self.enqueue(Outgoing(call.status_callback, params, call.sid))

    def queue_conference_event(self, conference: SimConference, event: str,
                               participant: SimParticipant | None = None) -> None:
        short = event.split("-", 1)[1] if event.startswith(("participant-", "conference-")) else event
        wanted = {"start": "start", "end": "end", "join": "join", "leave": "leave", "hold": "hold",
                  "unhold": "hold", "mute": "mute", "unmute": "mute"}.get(short, short)
        if not conference.status_callback or wanted not in conference.events:
            return
        params = {"AccountSid": self.account_sid, "ConferenceSid": conference.sid, "FriendlyName": conference.name,
                  "StatusCallbackEvent": event, "SequenceNumber": str(conference.next_sequence),
                  "Timestamp": format_datetime(self.now(), usegmt=True)}
        conference.next_sequence += 1
        if participant is not None:
            params.update(CallSid=participant.call_sid, Hold=str(participant.hold).lower(),
                          Muted=str(participant.muted).lower(), Coaching="false",
                          EndConferenceOnExit=str(participant.end_on_exit).lower(),
                          StartConferenceOnEnter=str(participant.start_on_enter).lower())
            if participant.label:
                params["ParticipantLabel"] = participant.label
        self.enqueue(Outgoing(conference.status_callback, params, participant.call_sid if participant else None))

    # Following TwiML

    def follow(self, call: SimCall, sent: Sent, *, kind: str) -> None:
        """Play the TwiML the app answered with, as far as the simulated caller can hear it."""
        if call.ended:
            return
        if sent.status >= 400 or sent.status == 0:
            if kind == "voice":
                call.heard.append("An application error has occurred.")
                self.end_call(call, "completed")
            return
        try:
            verbs = list(ET.fromstring(sent.body))
        except ET.ParseError:
            verbs = []
        for verb in verbs:
            if verb.tag == "Say":
                call.heard.append(verb.text or "")
            elif verb.tag == "Play":
                call.heard.append(f"[music {verb.text}]")
            elif kind == "wait":
                continue  # only Play/Say/Pause/Redirect are allowed in a wait URL
            elif verb.tag == "Dial" and (conference := verb.find("Conference")) is not None:
                self.join_conference(call, conference)
                return
            elif verb.tag == "Record":
                call.record_action = verb.get("action")
                call.recording_callback = verb.get("recordingStatusCallback")
                return
            elif verb.tag == "Redirect" and verb.text:
                self.enqueue(Outgoing(verb.text, self.call_params(call), call.sid, follow="voice"))
                return
            elif verb.tag == "Hangup":
                break
        if kind != "wait":
            self.end_call(call, "completed")

    def join_conference(self, call: SimCall, element: ET.Element) -> None:
        name = (element.text or "").strip()
        conference = self.conferences.get(name)
        if conference is None or conference.ended:
            # Only the first participant's statusCallback and events count, as on Twilio.
            conference = self.conferences[name] = SimConference(
                name=name, sid=new_sid("CF"), status_callback=element.get("statusCallback"),
                events=frozenset((element.get("statusCallbackEvent") or "start end").split()),
                wait_url=element.get("waitUrl"))
        participant = SimParticipant(call.sid, None, element.get("startConferenceOnEnter", "true") == "true",
                                     element.get("endConferenceOnExit", "false") == "true")
        self.add_to_conference(call, conference, participant, wait_url=element.get("waitUrl"))

    def add_to_conference(self, call: SimCall, conference: SimConference, participant: SimParticipant,
                          *, wait_url: str | None = None) -> None:
        call.conference = conference.name
        call.label = participant.label
        conference.participants[call.sid] = participant
        self.queue_conference_event(conference, "participant-join", participant)
        if participant.start_on_enter and not conference.started:
            conference.started = True
            self.queue_conference_event(conference, "conference-start")
        if not conference.started and wait_url:
            self.enqueue(Outgoing(wait_url, self.call_params(call), call.sid, follow="wait"))

    def leave_conference(self, call: SimCall) -> None:
        conference = self.conferences.get(call.conference or "")
        call.conference = None
        if conference is None or call.sid not in conference.participants:
            return
        participant = conference.participants.pop(call.sid)
        self.queue_conference_event(conference, "participant-leave", participant)
        if participant.end_on_exit or not conference.participants:
            self.end_conference(conference)

    def end_conference(self, conference: SimConference) -> None:
        if conference.ended:
            return
        conference.ended = True
        for sid in list(conference.participants):
            participant = conference.participants.pop(sid)
            self.queue_conference_event(conference, "participant-leave", participant)
            other = self.calls[sid]
            other.conference = None
            # A leg dialled into the conference hangs up; a caller's <Dial> ends and, with no
            # TwiML after it, so does their call.
            self.end_call(other, "completed")
        self.queue_conference_event(conference, "conference-end")

    def end_call(self, call: SimCall, status: str) -> None:
        if call.ended:
            return
        if call.conference:
            self.leave_conference(call)
        self.queue_status(call, status, CallDuration="60")
