"""The Twilio REST client: one per runtime, async, and pointable at the simulator.

twilio-python builds absolute ``https://api.twilio.com/...`` URLs and hands them to its HTTP
client, so the supported way to send them elsewhere is a custom HTTP client. Ours is httpx-based:
it rewrites the origin to ``OPENLINE_TWILIO_API_BASE`` when that is set (the simulator), runs the
request without blocking the event loop, and takes an httpx transport so tests can serve the REST
API in-process. Callers' numbers never reach the logs: nothing here logs request bodies.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from twilio.base.exceptions import TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from app.core.jobs import RetryLater
from app.core.runtime import Runtime
from telephony.twiml import CONFERENCE_EVENTS
from telephony.urls import webhook_url

log = logging.getLogger("openline.telephony")

EXTRAS_KEY = "twilio"
REQUEST_TIMEOUT_SECONDS = 10.0
# Twilio's "Call is not in-progress. Cannot redirect." and its not-found codes.
CALL_GONE_CODES = {20404, 21220}


class ProviderError(Exception):
    """Twilio (or the network) refused or failed a request."""


class ProviderRejected(ProviderError):
    """Twilio answered 4xx: retrying the same request will not help."""

    def __init__(self, message: str, *, status: int, code: int | None):
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def call_gone(self) -> bool:
        return self.status == 404 or self.code in CALL_GONE_CODES


class ProviderUnavailable(ProviderError):
    """A network failure or a 5xx: worth retrying shortly."""


class HttpxTwilioClient(AsyncHttpClient):
    def __init__(
        self,
        *,
        api_base: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ):
        super().__init__(logger=log, is_async=True, timeout=timeout)
        self.origin = urlsplit(api_base.rstrip("/")) if api_base else None
        self.http = httpx.AsyncClient(transport=transport, timeout=timeout)

    def rewrite(self, url: str) -> str:
        if self.origin is None:
            return url
        parts = urlsplit(url)
        return urlunsplit((self.origin.scheme, self.origin.netloc, self.origin.path + parts.path, parts.query, ""))

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        response = await self.http.request(
            method,
            self.rewrite(uri),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        return Response(response.status_code, response.text, response.headers)

    async def close(self) -> None:
        await self.http.aclose()


def build_rest_client(runtime: Runtime, *, transport: httpx.AsyncBaseTransport | None = None) -> Client:
    settings = runtime.settings
    http_client = HttpxTwilioClient(api_base=settings.twilio_api_base or None, transport=transport)
    return Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        account_sid=settings.twilio_account_sid,
        http_client=http_client,
    )


def rest_client(runtime: Runtime) -> Client:
    client = runtime.extras.get(EXTRAS_KEY)
    if client is None:
        client = runtime.extras[EXTRAS_KEY] = build_rest_client(runtime)
    return client


def use_transport(runtime: Runtime, transport: httpx.AsyncBaseTransport) -> Client:
    """Send this runtime's REST calls through ``transport`` (tests: the simulator, in-process)."""
    client = runtime.extras[EXTRAS_KEY] = build_rest_client(runtime, transport=transport)
    return client


async def _guarded(what: str, request: Any) -> Any:
    try:
        return await request
    except TwilioRestException as exc:
        if exc.status >= 500:
            raise ProviderUnavailable(f"{what}: Twilio answered {exc.status}") from exc
        raise ProviderRejected(f"{what}: {exc.msg}", status=exc.status, code=exc.code) from exc
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"{what}: {type(exc).__name__}") from exc


@dataclass(frozen=True)
class Participant:
    call_sid: str
    label: str | None


async def add_participant(
    runtime: Runtime,
    conference: str,
    *,
    to: str,
    label: str,
    status_callback: str,
    start_conference_on_enter: bool,
    end_conference_on_exit: bool,
    ring_seconds: int = 20,
    **options: Any,
) -> Participant:
    """Dial ``to`` (``client:identity``, a phone number or a SIP address) into a conference.
    ``options`` are Twilio's other participant fields (``muted``, ``coaching``, ``call_sid_to_coach``)."""
    participants = rest_client(runtime).conferences(conference).participants
    created = await _guarded(
        "add participant",
        participants.create_async(
            from_=runtime.settings.twilio_caller_id,
            to=to,
            label=label,
            early_media=True,
            timeout=ring_seconds,
            start_conference_on_enter=start_conference_on_enter,
            end_conference_on_exit=end_conference_on_exit,
            status_callback=status_callback,
            status_callback_method="POST",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            # A listener taken while the caller still hears the greeting reaches the conference
            # first and so creates it: without these, that conference would send no events and
            # the line would never learn the call was answered. Twilio keeps the first
            # participant's, so on a conference the caller started these change nothing.
            conference_status_callback=webhook_url(runtime.settings, "conference"),
            conference_status_callback_method="POST",
            conference_status_callback_event=CONFERENCE_EVENTS.split(),
            **options,
        ),
    )
    return Participant(call_sid=created.call_sid, label=created.label)


async def update_participant(runtime: Runtime, conference_sid: str, participant: str, **changes: Any) -> None:
    """Hold, mute, coach or change ``end_conference_on_exit`` for a participant (CallSid or label).
    Twilio takes only the conference SID here: see telephony.participants."""
    context = rest_client(runtime).conferences(conference_sid).participants(participant)
    await _guarded("update participant", context.update_async(**changes))


async def remove_participant(runtime: Runtime, conference_sid: str, participant: str) -> None:
    context = rest_client(runtime).conferences(conference_sid).participants(participant)
    await _guarded("remove participant", context.delete_async())


async def redirect_call(runtime: Runtime, call_sid: str, *, url: str) -> None:
    """Move a live call to new TwiML (e.g. out of the queue to the voicemail prompt)."""
    await _guarded("redirect call", rest_client(runtime).calls(call_sid).update_async(url=url, method="POST"))


async def hang_up_call(runtime: Runtime, call_sid: str) -> None:
    await _guarded("hang up call", rest_client(runtime).calls(call_sid).update_async(status="completed"))


async def place_call(runtime: Runtime, *, to: str, url: str, status_callback: str, ring_seconds: int) -> str:
    """Ring ``to`` from the line's own number; Twilio requests ``url`` once it is answered. Machine
    detection makes that request say who answered (``AnsweredBy``), so an answering machine can be
    hung up on before it records anything."""
    created = await _guarded(
        "place call",
        rest_client(runtime).calls.create_async(
            to=to,
            from_=runtime.settings.twilio_caller_id,
            url=url,
            method="POST",
            timeout=ring_seconds,
            machine_detection="Enable",
            status_callback=status_callback,
            status_callback_method="POST",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
        ),
    )
    return created.sid


RECORDING_URL = re.compile(
    r"^https://api\.twilio\.com/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Recordings/"
    r"(RE[0-9a-fA-F]{32})$"
)


async def open_recording(runtime: Runtime, recording_url: str) -> httpx.Response:
    """Start streaming a voicemail's MP3 with the account's credentials (recordings may not be
    public); the caller reads ``aiter_bytes()`` and then ``aclose()``s it. Only a recording of this
    account is fetched, whatever URL was stored."""
    match = RECORDING_URL.match(recording_url)
    if match is None or match.group(1) != runtime.settings.twilio_account_sid:
        raise ProviderRejected("not a recording of this account", status=404, code=None)
    http_client = rest_client(runtime).http_client
    assert isinstance(http_client, HttpxTwilioClient)
    settings = runtime.settings
    request = http_client.http.build_request("GET", http_client.rewrite(recording_url + ".mp3"))
    try:
        response = await http_client.http.send(
            request, stream=True, auth=(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
        )
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"fetch recording: {type(exc).__name__}") from exc
    if response.status_code >= 400:
        await response.aclose()
        if response.status_code >= 500:
            raise ProviderUnavailable(f"fetch recording: Twilio answered {response.status_code}")
        raise ProviderRejected("fetch recording: refused", status=response.status_code, code=None)
    return response


async def send_sms(runtime: Runtime, *, to: str, body: str) -> str:
    message = await _guarded(
        "send SMS",
        rest_client(runtime).messages.create_async(from_=runtime.settings.twilio_caller_id, to=to, body=body),
    )
    return message.sid


async def find_conference_sid(runtime: Runtime, friendly_name: str) -> str | None:
    """The SID of the live conference with this name (init or in-progress), if there is one."""
    found = await _guarded(
        "find conference", rest_client(runtime).conferences.list_async(friendly_name=friendly_name, limit=20)
    )
    live = [conference for conference in found if conference.status != "completed"]
    return live[0].sid if live else None


async def fetch_call_status(runtime: Runtime, call_sid: str) -> str | None:
    """The call's status as Twilio has it now; None when Twilio has no such call."""
    try:
        call = await _guarded("fetch call", rest_client(runtime).calls(call_sid).fetch_async())
    except ProviderRejected as exc:
        if exc.status == 404:
            return None
        raise
    return call.status


def retry_when_unavailable(
    send: Callable[[Runtime, dict[str, Any]], Awaitable[Any]],
) -> Callable[[Runtime, dict[str, Any]], Awaitable[Any]]:
    """For ``app.core.outbox.CallOut.send``: Twilio unreachable (or 5xx) is worth another try;
    a 4xx is a refusal, which retrying would only repeat."""

    async def send_retrying(runtime: Runtime, payload: dict[str, Any]) -> Any:
        try:
            return await send(runtime, payload)
        except ProviderUnavailable as exc:
            raise RetryLater(str(exc)) from exc

    return send_retrying
