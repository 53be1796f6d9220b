"""The listener's headset: which kind they get, its live ringing/connected/ended events, the
practice headset's buttons, and holding the caller.

Three kinds, chosen here so every page agrees: ``desk`` (the listener has a dial address: their
desk phone or SIP set rings), ``practice`` (simulated telephony: the page's buttons drive the
simulator), and ``twilio`` (Twilio's Voice SDK in the page). When the SDK or the API key is
missing the kind is ``unavailable``, with the reason and what to use instead.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import session_scope
from app.core.errors import Conflict, NotFound, ServiceUnavailable
from app.core.events import publish_live
from app.core.runtime import Runtime
from app.core.security import User
from app.core.settings import Settings
from telephony.call_states import FINAL_CALL_STATUSES
from telephony.models import Call, ListenerPresence
from telephony.participants import hold_in_conference
from telephony.provider import ProviderError, ProviderRejected, rest_client

log = logging.getLogger("openline.telephony")

HEADSET_EVENT = "headset"
SDK_URL = "/static/vendor/twilio-voice.min.js"
SDK_DIST = Path("@twilio") / "voice-sdk" / "dist" / "twilio.min.js"
PRACTICE_ACTIONS = ("answer", "decline", "hangup", "mute", "unmute")
# The leg's Twilio status, as the headset shows it.
LEG_STATES = {"ringing": "ringing", "in-progress": "connected"} | {s: "ended" for s in FINAL_CALL_STATUSES}

HeadsetKind = Literal["twilio", "practice", "desk", "unavailable"]


def voice_sdk_file(settings: Settings) -> Path | None:
    """The Voice SDK's browser build, if ``make install`` put it there."""
    path = Path(settings.node_modules_dir) / SDK_DIST
    return path if path.is_file() else None


def choose_headset(settings: Settings, user: User) -> dict[str, Any]:
    """Which headset this listener gets (pure: settings, the user and the installed files)."""
    base: dict[str, Any] = {"identity": user.headset_identity, "reason": None, "sdk_url": None, "dial_address": None}
    if user.dial_address:
        return base | {"kind": "desk", "dial_address": mask_dial_address(user.dial_address)}
    if settings.telephony == "simulated":
        return base | {"kind": "practice"}
    if voice_sdk_file(settings) is None:
        return base | {
            "kind": "unavailable",
            "reason": (
                "the browser headset is not installed on this server (run make install with npm); "
                "ask an admin for a desk phone or SIP address, or use practice mode"
            ),
        }
    # Ringing the browser needs only an API key (the token's incoming grant); the TwiML app is
    # for calls the browser would place, which the headset never does.
    if not (settings.twilio_api_key_sid and settings.twilio_api_key_secret.get_secret_value()):
        return base | {
            "kind": "unavailable",
            "reason": (
                "the browser headset needs OPENLINE_TWILIO_API_KEY_SID and OPENLINE_TWILIO_API_KEY_SECRET; "
                "ask an admin for a desk phone or SIP address meanwhile"
            ),
        }
    return base | {"kind": "twilio", "sdk_url": SDK_URL}


def mask_dial_address(address: str) -> str:
    # The listener's own number, but shown as little of it as lets them recognise it.
    if address.startswith("sip:"):
        return address
    return "•" * max(0, len(address) - 4) + address[-4:]


async def describe_headset(session: AsyncSession, *, settings: Settings, user: User) -> dict[str, Any]:
    """The headset's kind, and the line's state now (so a reloaded page rings again)."""
    # The presence row says which call holds the listener: cleared as soon as their leg ends,
    # even while the caller is still in the conference.
    held = await session.scalar(sa.select(ListenerPresence.current_call_id).where(ListenerPresence.user_id == user.id))
    call = await session.get(Call, held) if held is not None else None
    state, call_id = "idle", None
    if call is not None and call.listener_id == user.id and call.queue_state in ("claimed", "connected"):
        call_id = call.id
        state = (
            "connected" if call.queue_state == "connected" else ("ringing" if call.listener_call_sid else "dialling")
        )
    return choose_headset(settings, user) | {"state": state, "call_id": call_id}


async def publish_headset_state(session: AsyncSession, *, user_id: int | None, call_id: int, leg_status: str) -> None:
    """From the listener leg's status callbacks: the listener's page rings, connects, or stops."""
    state = LEG_STATES.get(leg_status)
    if user_id is None or state is None:
        return
    await publish_live(session, f"user:{user_id}", HEADSET_EVENT, {"state": state, "call_id": call_id})


async def press_practice_headset(
    runtime: Runtime, *, user: User, action: str, identity: str | None = None
) -> dict[str, Any]:
    """A practice headset button: the simulator does to the listener's (or, with ``identity``, a
    supervisor's) leg what the SDK would."""
    settings = runtime.settings
    if action not in PRACTICE_ACTIONS:
        raise NotFound(f"no headset action {action!r}")
    if settings.telephony != "simulated":
        raise Conflict("the practice headset works only with simulated telephony", error="not_practice")
    if not settings.twilio_api_base:
        raise ServiceUnavailable(
            "the simulator's address (OPENLINE_TWILIO_API_BASE) is not set", error="simulator_not_configured"
        )
    client = rest_client(runtime)
    # Through the REST client's HTTP client, whose origin is rewritten to the simulator.
    url = f"https://api.twilio.com/_sim/headsets/{identity or user.headset_identity}/{action}"
    try:
        response = await client.http_client.request("POST", url, auth=(client.username, client.password))
    except httpx.HTTPError as exc:
        raise ServiceUnavailable("the practice line cannot be reached; try again", error="simulator_down") from exc
    if response.status_code == 404:
        idle = "nothing is ringing" if action in ("answer", "decline") else "you are not on a call"
        raise Conflict(f"{idle} on your practice headset", error="headset_idle")
    if response.status_code >= 400:
        raise ServiceUnavailable("the practice line refused that; try again", error="simulator_refused")
    return {"action": action, "muted": bool(json.loads(response.text or "{}").get("muted"))}


async def _connected_call(runtime: Runtime, user_id: int) -> Call:
    async with session_scope(runtime) as session:
        call = await session.scalar(sa.select(Call).where(Call.listener_id == user_id, Call.queue_state == "connected"))
    if call is None:
        raise Conflict("you have no caller on the line to hold", error="no_current_call")
    return call


async def hold_current_caller(runtime: Runtime, *, user_id: int, hold: bool) -> dict[str, Any]:
    """Hold (or bring back) the listener's caller: they hear the line's hold music meanwhile.

    No transaction is open while Twilio is asked."""
    call = await _connected_call(runtime, user_id)
    try:
        await hold_in_conference(runtime, call, call.call_sid, hold=hold)
    except ProviderRejected as exc:
        if exc.call_gone:
            raise Conflict("the caller is no longer on the line", error="call_gone") from exc
        raise ServiceUnavailable("Twilio refused to hold the caller", error="provider_refused") from exc
    except ProviderError as exc:
        log.warning("could not hold the caller", extra={"call_id": call.id, "error": str(exc)})
        raise ServiceUnavailable("Twilio could not be reached; the caller is not held", error="provider_down") from exc
    return {"call_id": call.id, "hold": hold}
