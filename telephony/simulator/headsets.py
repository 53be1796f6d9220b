"""The practice headset's far end: what a listener's browser headset would do to their leg.

On Twilio the Voice SDK in the browser answers, declines, mutes or hangs up a ``client:`` leg.
The simulator has no browser, so with ``headsets_ring`` on (practice mode) a leg dialled to a
``client:`` identity keeps ringing, and these routes are the SDK's buttons:

    POST /_sim/headsets/{identity}/answer | decline | hangup | mute | unmute

Each acts as Twilio would report it: answering joins the conference; declining ends the leg
``busy`` (what Twilio reports when a client rejects the call); hanging up ends it ``completed``
and so leaves the conference; muting mutes the participant (with its conference event).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from telephony.simulator.rooms import SimConference, SimParticipant
from telephony.simulator.spec import TwilioError
from telephony.simulator.twilio_world import SimCall, SimulatedTwilio

ACTIONS = ("answer", "decline", "hangup", "mute", "unmute")
Ringing = tuple[SimCall, SimConference, SimParticipant]


def _client(identity: str) -> str:
    return f"client:{identity}"


def ringing_leg(sim: SimulatedTwilio, identity: str) -> Ringing | None:
    return next((entry for entry in sim.ringing if entry[0].to == _client(identity) and not entry[0].ended), None)


def connected_leg(sim: SimulatedTwilio, identity: str) -> tuple[SimCall, SimParticipant] | None:
    for call in sim.calls.values():
        room = sim.conferences.get(call.conference or "")
        if call.to == _client(identity) and not call.ended and room is not None and call.sid in room.participants:
            return call, room.participants[call.sid]
    return None


def _not_found(identity: str, what: str) -> Exception:
    return TwilioError(404, 20404, f"No {what} call for {_client(identity)}")


def answer_headset(sim: SimulatedTwilio, identity: str) -> SimCall:
    entry = ringing_leg(sim, identity)
    if entry is None:
        raise _not_found(identity, "ringing")
    sim.ringing.remove(entry)
    leg, room, joining = entry
    sim.queue_status(leg, "in-progress")
    if room.ended:
        sim.end_call(leg, "completed")
    else:
        sim.add_to_conference(leg, room, joining)
    return leg


def decline_headset(sim: SimulatedTwilio, identity: str) -> SimCall:
    entry = ringing_leg(sim, identity)
    if entry is None:
        raise _not_found(identity, "ringing")
    sim.ringing.remove(entry)
    leg, room, _ = entry
    sim.queue_status(leg, "busy")
    sim.leg_not_connected(room, leg, "busy")
    return leg


def hang_up_headset(sim: SimulatedTwilio, identity: str) -> SimCall:
    found = connected_leg(sim, identity)
    if found is None:
        # Hanging up a line that is still ringing is declining it.
        return decline_headset(sim, identity)
    sim.end_call(found[0], "completed")
    return found[0]


def mute_headset(sim: SimulatedTwilio, identity: str, *, muted: bool) -> SimCall:
    found = connected_leg(sim, identity)
    if found is None:
        raise _not_found(identity, "connected")
    leg, member = found
    if member.muted != muted:
        member.muted = muted
        room = sim.conferences[leg.conference or ""]
        sim.queue_conference_event(room, "participant-mute" if muted else "participant-unmute", member)
    return leg


def press_headset(sim: SimulatedTwilio, identity: str, action: str) -> dict[str, Any]:
    if action not in ACTIONS:
        raise _not_found(identity, action)
    if action == "answer":
        leg = answer_headset(sim, identity)
    elif action == "decline":
        leg = decline_headset(sim, identity)
    elif action == "hangup":
        leg = hang_up_headset(sim, identity)
    else:
        leg = mute_headset(sim, identity, muted=action == "mute")
    found = connected_leg(sim, identity)
    return {"identity": identity, "call_sid": leg.sid, "status": leg.status, "muted": bool(found and found[1].muted)}


def register_headset_routes(api: FastAPI, sim: SimulatedTwilio) -> None:
    @api.post("/_sim/headsets/{identity}/{action}")
    async def press_practice_headset(identity: str, action: str, request: Request) -> dict[str, Any]:
        from telephony.simulator.rest import _authorised

        _authorised(sim, request, sim.account_sid)
        return press_headset(sim, identity, action)
