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
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from twilio.request_validator import RequestValidator

from app.core.clock import Clock
from app.core.settings import Settings
from telephony.simulator.rooms import HUNG_UP, UPDATED_VIA_API, Rooms, SimConference

log = logging.getLogger("openline.simulator")

API_VERSION = "2010-04-01"
LINE_NUMBER = "+441234000000"
# A phone number's status callback takes no event list: for a call to the line Twilio reports only
# its end (``completed``, or busy, failed, no-answer). That the caller was answered is learned
# from their joining their conference, never from a callback.
CALLER_STATUS_EVENTS: tuple[str, ...] = ()


HOLD_VERBS = ("Say", "Play", "Pause", "Redirect")  # all a wait or hold URL document may use
SILENCE = "[silence]"
INVALID_HOLD_VERB = 13238
# TwiML Twilio refuses: the caller hears "an application error has occurred" and the call ends.
DOCUMENT_PARSE_FAILURE = 12100
SCHEMA_VALIDATION = 12200
GATHER_NESTED = ("Say", "Play", "Pause")  # all a <Gather> may hold
GATHER_INPUTS = ("dtmf", "speech", "dtmf speech", "speech dtmf")
DTMF_KEYS = frozenset("0123456789*#")
APPLICATION_ERROR = "An application error has occurred."
# Twilio's default opt-out and opt-in words: after STOP it refuses to text that number (21610).
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"})
START_WORDS = frozenset({"start", "unstop", "yes"})
CHAOS_ODDS = 0.3  # of a callback, in chaos mode, arriving a round late, and (apart) of arriving twice


@dataclass
class HoldNext:
    """What a waiting caller hears once the hold document has played: it loops, or Twilio asks
    the ``<Redirect>`` URL."""

    url: str | None = None
    method: str = "POST"
    loop: str | None = None


@dataclass
class GatherWait:
    """A ``<Gather>`` waiting for keys: where Twilio posts them, and the verbs after it, which it
    plays instead when the timeout passes with no key."""

    action: str
    method: str
    num_digits: int | None
    timeout: int
    finish_on_key: str
    after: list[ET.Element]


def gather_problem(verb: ET.Element) -> str | None:
    """Why Twilio would refuse this ``<Gather>`` (its documented attribute values), or None."""
    if verb.get("input", "dtmf") not in GATHER_INPUTS:
        return f"Gather input {verb.get('input')!r} is not dtmf, speech or 'dtmf speech'"
    for name in ("numDigits", "timeout"):
        raw = verb.get(name)
        if raw is not None and (not raw.isdigit() or int(raw) < 1):
            return f"Gather {name} must be a positive integer, not {raw!r}"
    finish = verb.get("finishOnKey", "#")
    if len(finish) > 1 or (finish and finish not in DTMF_KEYS):
        return f"Gather finishOnKey must be one of 0-9, #, * or empty, not {finish!r}"
    if (verb.get("method") or "POST").upper() not in ("GET", "POST"):
        return f"Gather method must be GET or POST, not {verb.get('method')!r}"
    nested = [child.tag for child in verb if child.tag not in GATHER_NESTED]
    if nested:
        return f"<{nested[0]}> cannot be nested in <Gather> (only Say, Play, Pause)"
    return None


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
    hold_next: HoldNext | None = None
    gather: GatherWait | None = None
    created: datetime | None = None
    heard: list[str] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "busy", "failed", "no-answer", "canceled")


@dataclass
class Outgoing:
    """One request Twilio owes the app. ``follow`` means its answer is TwiML for ``call_sid``."""

    url: str
    params: dict[str, str]
    call_sid: str | None = None
    follow: str | None = None
    method: str = "POST"
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class Sent:
    url: str
    params: dict[str, str]
    status: int
    body: str


class SimulatedTwilio(Rooms):
    """Calls, conferences and the outbox. ``telephony.simulator.Simulator`` adds the REST API.

    ``owned_numbers`` are the account's Twilio numbers and verified caller IDs: the only ``From``
    the REST API accepts. ``unanswered``, ``busy`` and ``failing`` are targets (e.g.
    ``client:listener-3``) whose legs ring out, are busy or fail; ``slow_to_answer`` ones keep
    ringing until ``answer_ringing()``. ``chaos`` makes ``deliver()`` hold callbacks back a round,
    send some twice and shuffle them (seeded by ``seed``). ``errors`` collects what Twilio would
    write in the account's debugger (e.g. 13238, a verb a wait URL may not use)."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        public_url: str,
        clock: Clock | None = None,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        webhook_base: str | None = None,
        idempotency_tokens: bool = True,
        seed: int | None = None,
        owned_numbers: set[str] | frozenset[str] | None = None,
        chaos: bool = False,
    ):
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
        self.owned_numbers = set(owned_numbers) if owned_numbers is not None else {LINE_NUMBER}
        self.chaos = chaos
        self.calls: dict[str, SimCall] = {}
        self.conferences: dict[str, SimConference] = {}
        self.conferences_by_sid: dict[str, SimConference] = {}
        self.recordings: dict[str, dict[str, Any]] = {}
        self.outbox: list[Outgoing] = []
        self.sent: list[Sent] = []
        self.errors: list[dict[str, Any]] = []
        self.rest_requests: list[dict[str, Any]] = []
        self.messages: list[dict[str, str]] = []
        self.messaging_url = self.public_url + "/telephony/messaging/incoming"
        # Numbers that texted STOP to the line: Twilio refuses to text them until they text START.
        self.opted_out: set[str] = set()
        self.unanswered: set[str] = set()
        self.busy: set[str] = set()
        self.failing: set[str] = set()
        self.slow_to_answer: set[str] = set()
        self.ringing: list[Any] = []
        self.answer_delay_seconds = 0.0
        # Practice mode: ``client:`` legs ring until the practice headset answers (simulator/headsets.py).
        self.headsets_ring = False
        self._wake = asyncio.Event()

    @classmethod
    def settings_kwargs(cls, settings: Settings) -> dict[str, Any]:
        return dict(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            public_url=settings.public_url,
            owned_numbers={LINE_NUMBER, settings.twilio_caller_id},
        )

    async def close(self) -> None:
        await self.http.aclose()

    # Sending

    def now(self) -> datetime:
        return self.clock.now()

    def sign(self, url: str, params: dict[str, str]) -> str:
        return self.validator.compute_signature(url, params)

    def outgoing(
        self,
        url: str,
        params: dict[str, str],
        call_sid: str | None = None,
        *,
        follow: str | None = None,
        method: str = "POST",
    ) -> Outgoing:
        return Outgoing(url, params, call_sid, follow=follow, method=method.upper())

    async def post(self, item: Outgoing) -> Sent:
        """Make one request to the app, signed as Twilio signs it (a GET carries the fields in
        its query string, which is then what is signed)."""
        url, params = item.url, item.params
        if item.method == "GET":
            url, params = url + ("&" if "?" in url else "?") + urlencode(params), {}
        headers = {"X-Twilio-Signature": self.sign(url, params)}
        if self.idempotency_tokens:
            headers["I-Twilio-Idempotency-Token"] = item.token
        target = url
        if self.webhook_base:
            # Behind a proxy: signed for the public URL, delivered to the address the app listens on.
            parts = urlsplit(target)
            target = self.webhook_base + parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            if item.method == "GET":
                response = await self.http.get(target, headers=headers)
            else:
                response = await self.http.post(target, data=params, headers=headers)
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

    async def deliver(
        self, *, duplicate: bool = False, shuffle: bool = False, chaos: bool | None = None, rounds: int = 100
    ) -> list[Sent]:
        """Send everything owed, including what the answers lead to. ``duplicate`` sends each
        request twice (as a Twilio retry would, with the same idempotency token); ``shuffle``
        sends each round's requests in random order (callbacks carry no ordering guarantee);
        ``chaos`` (default: the simulator's flag) also holds some callbacks back to a later round
        and sends some twice. Requests whose TwiML a caller waits on are never held back."""
        chaos = self.chaos if chaos is None else chaos
        sent: list[Sent] = []
        late: list[Outgoing] = []
        for _ in range(rounds):
            if not self.outbox and not late:
                break
            fresh, self.outbox = self.outbox, []
            batch, late = late, []
            for item in fresh:
                held = chaos and not item.follow and self.rng.random() < CHAOS_ODDS
                (late if held else batch).append(item)
            if shuffle or chaos:
                self.rng.shuffle(batch)
            for item in batch:
                twice = duplicate or (chaos and not item.follow and self.rng.random() < CHAOS_ODDS)
                sent.extend(await self._send(item, twice=twice))
        return sent

    async def _send(self, item: Outgoing, *, twice: bool) -> list[Sent]:
        first = await self.post(item)
        sent = [first, await self.post(item)] if twice else [first]
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
            "CallSid": call.sid,
            "AccountSid": self.account_sid,
            "From": call.from_,
            "To": call.to,
            "Caller": call.from_,
            "Called": call.to,
            "CallStatus": call.status,
            "ApiVersion": API_VERSION,
            "Direction": call.direction,
            "ForwardedFrom": "",
            "CallerName": "",
            "ParentCallSid": "",
            "CallToken": "",
            "FromCountry": "GB",
            "FromCity": "",
            "ToCountry": "GB",
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
        params = self.call_params(
            call,
            SequenceNumber=str(sequence),
            CallbackSource="call-progress-events",
            Timestamp=format_datetime(self.now(), usegmt=True),
            **extra,
        )
        self.enqueue(self.outgoing(call.status_callback, params, call.sid))

    def record_error(self, code: int, call: SimCall, message: str) -> None:
        self.errors.append({"code": code, "call_sid": call.sid, "message": message})
        log.warning("Twilio error %s on a call: %s", code, message)

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
        if kind in ("wait", "hold"):
            self.play_hold_document(call, verbs)
            return
        self.play(call, verbs, document_url=sent.url)

    def play(self, call: SimCall, verbs: list[ET.Element], *, document_url: str = "") -> None:
        """Run a voice document's verbs in order, as far as the caller can hear them."""
        for index, verb in enumerate(verbs):
            if verb.tag == "Say":
                call.heard.append(verb.text or "")
            elif verb.tag == "Play":
                call.heard.append(f"[music {verb.text}]")
            elif verb.tag == "Dial" and (conference := verb.find("Conference")) is not None:
                self.join_conference(call, conference)
                return
            elif verb.tag == "Record":
                call.record_action = verb.get("action")
                call.recording_callback = verb.get("recordingStatusCallback")
                return
            elif verb.tag == "Gather":
                if (problem := gather_problem(verb)) is not None:
                    self.record_error(SCHEMA_VALIDATION, call, problem)
                    call.heard.append(APPLICATION_ERROR)
                    break
                for child in verb:
                    if child.tag == "Say":
                        call.heard.append(child.text or "")
                    elif child.tag == "Play":
                        call.heard.append(f"[music {child.text}]")
                num_digits = verb.get("numDigits")
                call.gather = GatherWait(
                    action=verb.get("action") or document_url,
                    method=(verb.get("method") or "POST").upper(),
                    num_digits=int(num_digits) if num_digits else None,
                    timeout=int(verb.get("timeout") or 5),
                    finish_on_key=verb.get("finishOnKey", "#"),
                    after=verbs[index + 1 :],
                )
                return
            elif verb.tag == "Redirect" and verb.text:
                self.enqueue(
                    self.outgoing(
                        verb.text.strip(),
                        self.call_params(call),
                        call.sid,
                        follow="voice",
                        method=verb.get("method") or "POST",
                    )
                )
                return
            elif verb.tag == "Hangup":
                break
        self.end_call(call, "completed")

    def play_hold_document(self, call: SimCall, verbs: list[ET.Element]) -> None:
        """A wait (or hold) URL's TwiML, run once: only Say, Play, Pause and Redirect; Twilio asks
        again only at a ``<Redirect>``, a ``<Play loop="0">`` plays forever, else silence."""
        refused = [verb.tag for verb in verbs if verb.tag not in HOLD_VERBS]
        if refused:
            self.record_error(INVALID_HOLD_VERB, call, f"Invalid verb in a waitUrl or holdUrl document: {refused[0]}")
            call.hold_next = None
            call.heard.append(SILENCE)
            return
        call.hold_next = None
        for verb in verbs:
            if verb.tag == "Say":
                call.heard.append(verb.text or "")
            elif verb.tag == "Play":
                call.heard.append(f"[music {verb.text}]")
                if verb.get("loop") == "0":
                    call.hold_next = HoldNext(loop=f"[music {verb.text}]")
                    return
            elif verb.tag == "Redirect" and verb.text:
                call.hold_next = HoldNext(url=verb.text.strip(), method=(verb.get("method") or "POST").upper())
                return
        call.heard.append(SILENCE)

    def end_call(self, call: SimCall, status: str, *, reason: str = HUNG_UP) -> None:
        if call.ended:
            return
        call.gather = None
        if call.conference:
            self.leave_conference(call, reason, call_status=status)
        self.queue_status(call, status, CallDuration="60")

    def redirect_out_of_conference(self, call: SimCall) -> None:
        """A call given new TwiML over the REST API leaves its conference and keeps going."""
        call.gather = None
        if call.conference:
            self.leave_conference(call, UPDATED_VIA_API)

    def text_line(self, from_: str, body: str, *, to: str | None = None) -> Outgoing:
        """Someone texts the line's number: Twilio posts its inbound-message webhook (signed,
        as every webhook), and keeps its own opt-out list from the STOP and START words."""
        word = body.strip().strip(".!").lower()
        if word in STOP_WORDS:
            self.opted_out.add(from_)
        elif word in START_WORDS:
            self.opted_out.discard(from_)
        sid = "SM" + uuid.uuid4().hex
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to or next(iter(sorted(self.owned_numbers))),
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
            "FromCountry": "GB",
            "ToCountry": "GB",
        }
        item = self.outgoing(self.messaging_url, params)
        self.enqueue(item)
        return item

    def drop(self, call_sid: str) -> None:
        """The line of one leg drops mid-call (a headset unplugged, a mobile out of signal)."""
        self.end_call(self.calls[call_sid], "completed", reason=HUNG_UP)


__all__ = ["SILENCE", "GatherWait", "HoldNext", "Outgoing", "Sent", "SimCall", "SimulatedTwilio"]
