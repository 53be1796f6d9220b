"""The REST API the app calls, answered like Twilio's (same paths, Basic auth, JSON shapes and
error format), acting on the simulated world and queueing the callbacks that follow."""

from __future__ import annotations

import asyncio
import base64
from email.utils import format_datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData

from telephony.simulator.twilio_world import (
    API_VERSION,
    Outgoing,
    Sent,
    SimCall,
    SimConference,
    SimParticipant,
    SimulatedTwilio,
    new_sid,
)

ACCOUNT = "/2010-04-01/Accounts/{account_sid}"


class TwilioError(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _flag(form: FormData, name: str, default: bool) -> bool:
    value = form.get(name)
    return default if value is None else str(value).lower() == "true"


def _date(sim: SimulatedTwilio) -> str:
    return format_datetime(sim.now(), usegmt=True)


def call_json(sim: SimulatedTwilio, call: SimCall) -> dict[str, Any]:
    return {"sid": call.sid, "account_sid": sim.account_sid, "to": call.to, "from": call.from_,
            "status": call.status, "direction": call.direction, "api_version": API_VERSION,
            "date_created": _date(sim), "date_updated": _date(sim), "parent_call_sid": None,
            "uri": f"/2010-04-01/Accounts/{sim.account_sid}/Calls/{call.sid}.json"}


def participant_json(sim: SimulatedTwilio, conference: SimConference, participant: SimParticipant,
                     status: str) -> dict[str, Any]:
    return {"account_sid": sim.account_sid, "call_sid": participant.call_sid, "label": participant.label,
            "conference_sid": conference.sid, "coaching": False, "call_sid_to_coach": None,
            "end_conference_on_exit": participant.end_on_exit, "start_conference_on_enter": participant.start_on_enter,
            "hold": participant.hold, "muted": participant.muted, "status": status,
            "date_created": _date(sim), "date_updated": _date(sim),
            "uri": f"/2010-04-01/Accounts/{sim.account_sid}/Conferences/{conference.sid}/Participants/"
                   f"{participant.call_sid}.json"}


def find_conference(sim: SimulatedTwilio, name_or_sid: str) -> SimConference | None:
    conference = sim.conferences.get(name_or_sid)
    if conference is None:
        conference = next((c for c in sim.conferences.values() if c.sid == name_or_sid), None)
    return conference


def find_participant(conference: SimConference, sid_or_label: str) -> SimParticipant:
    participant = conference.participants.get(sid_or_label) or next(
        (p for p in conference.participants.values() if p.label == sid_or_label), None)
    if participant is None:
        raise TwilioError(404, 20404, f"The requested resource /Participants/{sid_or_label}.json was not found")
    return participant


def create_participant(sim: SimulatedTwilio, form: FormData, conference: str) -> dict[str, Any]:
    if not form.get("To") or not form.get("From"):
        raise TwilioError(400, 21604, "A 'To' and a 'From' phone number are required.")
    room = find_conference(sim, conference)
    if room is None or room.ended:
        room = sim.conferences[conference] = SimConference(
            name=conference, sid=new_sid("CF"), status_callback=form.get("ConferenceStatusCallback"),
            events=frozenset(form.getlist("ConferenceStatusCallbackEvent") or ["start", "end"]), wait_url=None)
    leg = SimCall(new_sid("CA"), str(form["From"]), str(form["To"]), "outbound-api", status="queued",
                  status_callback=form.get("StatusCallback"),
                  status_events=tuple(form.getlist("StatusCallbackEvent") or ["completed"]), label=form.get("Label"))
    sim.calls[leg.sid] = leg
    joining = SimParticipant(leg.sid, form.get("Label"), _flag(form, "StartConferenceOnEnter", True),
                             _flag(form, "EndConferenceOnExit", False))
    sim.queue_status(leg, "initiated")
    sim.queue_status(leg, "ringing")
    if sim.answer_delay_seconds > 0:
        asyncio.get_running_loop().call_later(sim.answer_delay_seconds, _answer_leg, sim, leg, room, joining)
    else:
        _answer_leg(sim, leg, room, joining)
    return participant_json(sim, room, joining, "queued")


def _answer_leg(sim: SimulatedTwilio, leg: SimCall, room: SimConference, joining: SimParticipant) -> None:
    if leg.ended:
        return
    if leg.to in sim.unanswered:
        sim.queue_status(leg, "no-answer")
        return
    if leg.to in sim.slow_to_answer or (sim.headsets_ring and leg.to.startswith("client:")):
        sim.ringing.append((leg, room, joining))
        return
    sim.queue_status(leg, "in-progress")
    if room.ended:
        sim.end_call(leg, "completed")
        return
    sim.add_to_conference(leg, room, joining)


def answer_ringing(sim: SimulatedTwilio) -> None:
    """The people whose lines were left ringing (``slow_to_answer``) pick up now."""
    waiting, sim.ringing = sim.ringing, []
    for leg, room, joining in waiting:
        sim.slow_to_answer.discard(leg.to)
        _answer_leg(sim, leg, room, joining)


def _live_conference(sim: SimulatedTwilio, conference: str) -> SimConference:
    room = find_conference(sim, conference)
    if room is None or room.ended:
        raise TwilioError(404, 20404, f"The requested resource /Conferences/{conference}.json was not found")
    return room


def update_participant(sim: SimulatedTwilio, form: FormData, conference: str, participant: str) -> dict[str, Any]:
    room = _live_conference(sim, conference)
    member = find_participant(room, participant)
    if "Hold" in form and _flag(form, "Hold", False) != member.hold:
        member.hold = not member.hold
        sim.queue_conference_event(room, "participant-hold" if member.hold else "participant-unhold", member)
    if "Muted" in form and _flag(form, "Muted", False) != member.muted:
        member.muted = not member.muted
        sim.queue_conference_event(room, "participant-mute" if member.muted else "participant-unmute", member)
    if "EndConferenceOnExit" in form:
        member.end_on_exit = _flag(form, "EndConferenceOnExit", False)
    return participant_json(sim, room, member, "connected")


def remove_participant(sim: SimulatedTwilio, form: FormData, conference: str, participant: str) -> None:
    member = find_participant(_live_conference(sim, conference), participant)
    # Whoever is removed leaves the call: a dialled leg hangs up; a caller's <Dial> ends.
    sim.end_call(sim.calls[member.call_sid], "completed")


def update_call(sim: SimulatedTwilio, form: FormData, call_sid: str) -> dict[str, Any]:
    call = sim.calls.get(call_sid)
    if call is None:
        raise TwilioError(404, 20404, f"The requested resource /Calls/{call_sid}.json was not found")
    if call.ended:
        raise TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
    if form.get("Status") in ("completed", "canceled"):
        # A call hung up before it was answered is "canceled", as on Twilio.
        sim.end_call(call, "canceled" if call.status in ("queued", "initiated", "ringing") else "completed")
    elif form.get("Url") or form.get("Twiml"):
        sim.leave_conference(call)
        call.record_action = None
        if form.get("Twiml"):
            sim.follow(call, Sent("", {}, 200, str(form["Twiml"])), kind="voice")
        else:
            sim.enqueue(Outgoing(str(form["Url"]), sim.call_params(call), call.sid, follow="voice"))
    return call_json(sim, call)


def create_call(sim: SimulatedTwilio, form: FormData) -> dict[str, Any]:
    if not form.get("To") or not form.get("From") or not (form.get("Url") or form.get("Twiml")):
        raise TwilioError(400, 21205, "To, From and Url (or Twiml) are required.")
    call = SimCall(new_sid("CA"), str(form["From"]), str(form["To"]), "outbound-api", status="queued",
                   status_callback=form.get("StatusCallback"),
                   status_events=tuple(form.getlist("StatusCallbackEvent") or ["completed"]))
    sim.calls[call.sid] = call
    sim.queue_status(call, "initiated")
    sim.queue_status(call, "ringing")
    if call.to in sim.unanswered:
        sim.queue_status(call, "no-answer")
    else:
        sim.queue_status(call, "in-progress")
        if form.get("Twiml"):
            sim.follow(call, Sent("", {}, 200, str(form["Twiml"])), kind="voice")
        else:
            sim.enqueue(Outgoing(str(form["Url"]), sim.call_params(call), call.sid, follow="voice"))
    return call_json(sim, call)


def create_message(sim: SimulatedTwilio, form: FormData) -> dict[str, Any]:
    if not form.get("To") or not (form.get("Body") or form.get("MediaUrl")):
        raise TwilioError(400, 21604, "A 'To' phone number and a Body are required.")
    message = {"sid": new_sid("SM"), "account_sid": sim.account_sid, "to": str(form["To"]),
               "from": str(form.get("From") or ""), "body": str(form.get("Body") or ""), "status": "queued",
               "direction": "outbound-api", "num_segments": "1", "api_version": API_VERSION,
               "date_created": _date(sim), "date_updated": _date(sim)}
    sim.messages.append(message)
    return message


def _authorised(sim: SimulatedTwilio, request: Request, account_sid: str) -> None:
    header = request.headers.get("authorization", "")
    expected = base64.b64encode(f"{sim.account_sid}:{sim.auth_token}".encode()).decode()
    if header != f"Basic {expected}" or account_sid != sim.account_sid:
        raise TwilioError(401, 20003, "Authenticate")


# (method, path under the account, operation, status): each operation takes the simulator, the
# posted form and the path's parameters, and returns the resource's JSON (None: no content).
ROUTES = (
    ("POST", "/Calls.json", "create_call", 201),
    ("POST", "/Calls/{call_sid}.json", "update_call", 200),
    ("POST", "/Conferences/{conference}/Participants.json", "create_participant", 201),
    ("POST", "/Conferences/{conference}/Participants/{participant}.json", "update_participant", 200),
    ("DELETE", "/Conferences/{conference}/Participants/{participant}.json", "remove_participant", 204),
    ("POST", "/Messages.json", "create_message", 201),
)


def _form_for_log(form: FormData) -> dict[str, Any]:
    return {key: form.getlist(key) if len(form.getlist(key)) > 1 else form[key] for key in form}


def describe_world(sim: SimulatedTwilio) -> dict[str, Any]:
    return {"calls": {sid: {"status": c.status, "direction": c.direction, "label": c.label,
                            "conference": c.conference} for sid, c in sim.calls.items()},
            "conferences": {name: {"sid": c.sid, "started": c.started, "ended": c.ended,
                                   "participants": list(c.participants)} for name, c in sim.conferences.items()},
            "rest_requests": sim.rest_requests, "messages": sim.messages, "outbox": len(sim.outbox)}


def build_rest_app(sim: SimulatedTwilio) -> FastAPI:
    api = FastAPI(title="Openline Twilio simulator", docs_url=None, redoc_url=None, openapi_url=None)

    @api.exception_handler(TwilioError)
    async def _twilio_error(_request: Request, exc: TwilioError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": exc.message, "status": exc.status,
                             "more_info": f"https://www.twilio.com/docs/errors/{exc.code}"}, status_code=exc.status)

    def endpoint(operation: Any, status: int) -> Any:
        async def handle(request: Request) -> Response:
            path = dict(request.path_params)
            _authorised(sim, request, path.pop("account_sid"))
            form = await request.form()
            sim.rest_requests.append({"method": request.method, "path": request.url.path, "form": _form_for_log(form)})
            result = operation(sim, form, **path)
            return Response(status_code=204) if result is None else JSONResponse(result, status_code=status)

        return handle

    for method, path, name, status in ROUTES:
        api.add_api_route(ACCOUNT + path, endpoint(globals()[name], status), methods=[method], name=name)

    from telephony.simulator.headsets import register_headset_routes

    register_headset_routes(api, sim)

    @api.get("/_sim/state")
    async def show_state() -> dict[str, Any]:
        return describe_world(sim)

    @api.get("/healthz")
    async def check_health() -> dict[str, str]:
        return {"status": "ok"}

    return api
