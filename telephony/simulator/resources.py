"""The JSON the simulated REST API answers with: Twilio's resource shapes (snake_case fields,
RFC 2822 dates, ``uri``) and its list pages, as twilio-python reads them."""

from __future__ import annotations

from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from telephony.simulator.rooms import SimConference, SimParticipant, new_sid
from telephony.simulator.twilio_world import API_VERSION

if TYPE_CHECKING:
    from telephony.simulator.spec import Fields
    from telephony.simulator.twilio_world import SimCall, SimulatedTwilio


def _date(sim: "SimulatedTwilio", when: Any = None) -> str:
    return format_datetime(when or sim.now(), usegmt=True)


def _account(sim: "SimulatedTwilio") -> str:
    return f"/{API_VERSION}/Accounts/{sim.account_sid}"


def call_json(sim: "SimulatedTwilio", call: "SimCall") -> dict[str, Any]:
    return {
        "sid": call.sid,
        "account_sid": sim.account_sid,
        "to": call.to,
        "from": call.from_,
        "status": call.status,
        "direction": call.direction,
        "api_version": API_VERSION,
        "date_created": _date(sim, call.created),
        "date_updated": _date(sim),
        "parent_call_sid": None,
        "uri": f"{_account(sim)}/Calls/{call.sid}.json",
    }


def conference_json(sim: "SimulatedTwilio", room: SimConference) -> dict[str, Any]:
    return {
        "sid": room.sid,
        "account_sid": sim.account_sid,
        "friendly_name": room.name,
        "status": room.status,
        "date_created": _date(sim, room.created),
        "date_updated": _date(sim),
        "api_version": API_VERSION,
        "region": "ie1",
        "reason_conference_ended": room.reason_ended,
        "call_sid_ending_conference": room.call_sid_ending,
        "uri": f"{_account(sim)}/Conferences/{room.sid}.json",
        "subresource_uris": {"participants": f"{_account(sim)}/Conferences/{room.sid}/Participants.json"},
    }


def participant_json(
    sim: "SimulatedTwilio", room: SimConference, member: SimParticipant, status: str
) -> dict[str, Any]:
    return {
        "account_sid": sim.account_sid,
        "call_sid": member.call_sid,
        "label": member.label,
        "conference_sid": room.sid,
        "coaching": member.coaching,
        "call_sid_to_coach": member.call_sid_to_coach,
        "end_conference_on_exit": member.end_on_exit,
        "start_conference_on_enter": member.start_on_enter,
        "hold": member.hold,
        "muted": member.muted,
        "status": status,
        "queue_time": None,
        "date_created": _date(sim),
        "date_updated": _date(sim),
        "uri": f"{_account(sim)}/Conferences/{room.sid}/Participants/{member.call_sid}.json",
    }


def message_json(sim: "SimulatedTwilio", form: "Fields") -> dict[str, Any]:
    return {
        "sid": new_sid("SM"),
        "account_sid": sim.account_sid,
        "to": str(form.get("To")),
        "from": str(form.get("From") or ""),
        "body": str(form.get("Body") or ""),
        "status": "queued",
        "direction": "outbound-api",
        "num_segments": "1",
        "api_version": API_VERSION,
        "date_created": _date(sim),
        "date_updated": _date(sim),
    }


def recording_json(sim: "SimulatedTwilio", sid: str, call_sid: str, seconds: int) -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": sim.account_sid,
        "call_sid": call_sid,
        "duration": str(seconds),
        "status": "completed",
        "channels": 1,
        "source": "RecordVerb",
        "api_version": API_VERSION,
        "date_created": _date(sim),
        "date_updated": _date(sim),
        "uri": f"{_account(sim)}/Recordings/{sid}.json",
    }


def page_json(sim: "SimulatedTwilio", key: str, path: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """One page holding every item (Openline's lists are short)."""
    uri = f"{_account(sim)}{path}"
    return {
        key: items,
        "page": 0,
        "page_size": max(len(items), 50),
        "start": 0,
        "end": max(len(items) - 1, 0),
        "uri": uri,
        "first_page_uri": uri,
        "next_page_uri": None,
        "previous_page_uri": None,
    }
