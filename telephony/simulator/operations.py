"""What each REST operation does to the simulated world, once ``spec.validate`` has let the
request through, and the rules Twilio enforces that its definition cannot express (``From``
must be one of the account's numbers; a participant of an ended or unknown conference is a 404;
one of ``Url``/``Twiml``; a message needs a body). Each takes the simulator, the form, the query
and the path's parameters (named as in the definition) and returns the resource's JSON."""

from __future__ import annotations

import asyncio
from typing import Any

from telephony.simulator import resources as shape
from telephony.simulator.rooms import (
    CALL_ENDED_VIA_API,
    ENDED_VIA_API,
    NOT_CONNECTED,
    REMOVED_VIA_API,
    SimConference,
    SimParticipant,
    conference_events,
    new_sid,
)
from telephony.simulator.spec import BAD_REQUEST, Fields, TwilioError, not_found
from telephony.simulator.twilio_world import Sent, SimCall, SimulatedTwilio

NOT_VERIFIED = 21210
NOT_MESSAGE_CAPABLE = 21606
UNSUBSCRIBED_RECIPIENT = 21610


def _is_phone_number(value: str) -> bool:
    return value.startswith("+") or value[:1].isdigit()


def check_caller_id(sim: SimulatedTwilio, form: Fields) -> None:
    """A call's ``From`` is a Twilio number of the account or a verified caller ID; a
    ``client:`` identity only when ``To`` is not a phone number (Twilio's definition says so)."""
    caller_id, to = str(form.get("From")), str(form.get("To"))
    if caller_id.startswith("client:") and not _is_phone_number(to):
        return
    if caller_id not in sim.owned_numbers:
        raise TwilioError(
            400,
            NOT_VERIFIED,
            "The source phone number provided is not yet verified for your "
            "account. You may only make calls from phone numbers that you've "
            "verified or purchased from Twilio.",
        )


def _call(sim: SimulatedTwilio, sid: str) -> SimCall:
    call = sim.calls.get(sid)
    if call is None:
        raise not_found(f"/Calls/{sid}.json")
    return call


def _conference(sim: SimulatedTwilio, sid: str, *, live: bool = True) -> SimConference:
    room = sim.conferences_by_sid.get(sid)
    if room is None or (live and room.ended):
        raise not_found(f"/Conferences/{sid}.json")
    return room


def _participant(room: SimConference, sid_or_label: str) -> SimParticipant:
    member = room.participants.get(sid_or_label) or next(
        (p for p in room.participants.values() if p.label == sid_or_label), None
    )
    if member is None:
        raise not_found(f"/Conferences/{room.sid}/Participants/{sid_or_label}.json")
    return member


# Calls


def create_call(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
        raise TwilioError(400, 21205, "Url parameter is required.")
    check_caller_id(sim, form)
    call = SimCall(
        new_sid("CA"),
        str(form.get("From")),
        str(form.get("To")),
        "outbound-api",
        status="queued",
        status_callback=form.get("StatusCallback"),
        created=sim.now(),
        status_events=tuple(_events(form, "StatusCallbackEvent") or ["completed"]),
    )
    sim.calls[call.sid] = call
    sim.queue_status(call, "initiated")
    sim.queue_status(call, "ringing")
    failure = _failure(sim, call.to)
    if failure:
        sim.queue_status(call, failure)
    else:
        sim.queue_status(call, "in-progress")
        _run_twiml(sim, call, form)
    return shape.call_json(sim, call)


def fetch_call(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    return shape.call_json(sim, _call(sim, path["Sid"]))


def update_call(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    call = _call(sim, path["Sid"])
    if call.ended:
        raise TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
    if form.get("Status"):
        # A call hung up before it was answered is "canceled", as on Twilio.
        unanswered = call.status in ("queued", "initiated", "ringing")
        sim.end_call(call, "canceled" if unanswered else "completed", reason=CALL_ENDED_VIA_API)
    elif form.get("Url") or form.get("Twiml"):
        sim.redirect_out_of_conference(call)
        call.record_action = None
        _run_twiml(sim, call, form)
    return shape.call_json(sim, call)


def _run_twiml(sim: SimulatedTwilio, call: SimCall, form: Fields) -> None:
    if form.get("Twiml"):
        sim.follow(call, Sent("", {}, 200, str(form.get("Twiml"))), kind="voice")
    elif form.get("Url"):
        sim.enqueue(
            sim.outgoing(
                str(form.get("Url")),
                sim.call_params(call),
                call.sid,
                follow="voice",
                method=form.get("Method") or "POST",
            )
        )


def _events(form: Fields, name: str) -> list[str]:
    return [part for value in form.getlist(name) for part in value.split()]


def _failure(sim: SimulatedTwilio, target: str) -> str | None:
    return (
        "busy"
        if target in sim.busy
        else "failed"
        if target in sim.failing
        else "no-answer"
        if target in sim.unanswered
        else None
    )


# Conferences


def list_conference(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    rooms = [
        room
        for room in sim.conferences_by_sid.values()
        if query.get("FriendlyName") in (None, room.name) and query.get("Status") in (None, room.status)
    ]
    rooms.sort(key=lambda room: room.created, reverse=True)
    return shape.page_json(sim, "conferences", "/Conferences.json", [shape.conference_json(sim, r) for r in rooms])


def fetch_conference(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    return shape.conference_json(sim, _conference(sim, path["Sid"], live=False))


def update_conference(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    room = sim.conferences_by_sid.get(path["Sid"]) or sim.conferences.get(path["Sid"])
    if room is None:
        raise not_found(f"/Conferences/{path['Sid']}.json")
    if form.get("Status") == "completed":
        sim.end_conference(room, ENDED_VIA_API)
    return shape.conference_json(sim, room)


# Participants


def create_participant(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    check_caller_id(sim, form)
    name_or_sid = path["ConferenceSid"]
    if name_or_sid in sim.conferences_by_sid:
        room = _conference(sim, name_or_sid)
    else:
        room = sim.open_conference(
            name_or_sid,
            status_callback=form.get("ConferenceStatusCallback"),
            events=conference_events(form.getlist("ConferenceStatusCallbackEvent")),
            wait_url=form.get("WaitUrl"),
        )
    leg = SimCall(
        new_sid("CA"),
        str(form.get("From")),
        str(form.get("To")),
        "outbound-api",
        status="queued",
        status_callback=form.get("StatusCallback"),
        created=sim.now(),
        label=form.get("Label"),
        status_events=tuple(_events(form, "StatusCallbackEvent") or ["completed"]),
    )
    sim.calls[leg.sid] = leg
    joining = SimParticipant(
        leg.sid,
        form.get("Label"),
        form.flag("StartConferenceOnEnter", True),
        form.flag("EndConferenceOnExit", False),
        muted=form.flag("Muted", False),
        coaching=form.flag("Coaching", False),
        call_sid_to_coach=form.get("CallSidToCoach"),
    )
    sim.queue_status(leg, "initiated")
    sim.queue_status(leg, "ringing")
    if sim.answer_delay_seconds > 0:
        asyncio.get_running_loop().call_later(sim.answer_delay_seconds, answer_leg, sim, leg, room, joining)
    else:
        answer_leg(sim, leg, room, joining)
    return shape.participant_json(sim, room, joining, "queued")


def answer_leg(sim: SimulatedTwilio, leg: SimCall, room: SimConference, joining: SimParticipant) -> None:
    if leg.ended:
        return
    failure = _failure(sim, leg.to)
    if failure:
        sim.queue_status(leg, failure)
        sim.leg_not_connected(room, leg, failure)
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
        answer_leg(sim, leg, room, joining)


def list_participant(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    room = _conference(sim, path["ConferenceSid"])
    members = [
        m
        for m in room.participants.values()
        if all(
            query.get(name) in (None, str(getattr(m, attr)).lower())
            for name, attr in (("Muted", "muted"), ("Hold", "hold"), ("Coaching", "coaching"))
        )
    ]
    return shape.page_json(
        sim,
        "participants",
        f"/Conferences/{room.sid}/Participants.json",
        [shape.participant_json(sim, room, m, "connected") for m in members],
    )


def fetch_participant(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    room = _conference(sim, path["ConferenceSid"])
    return shape.participant_json(sim, room, _participant(room, path["CallSid"]), "connected")


def update_participant(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    room = _conference(sim, path["ConferenceSid"])
    member = _participant(room, path["CallSid"])
    if form.flag("Coaching", member.coaching):
        coached = form.get("CallSidToCoach") or member.call_sid_to_coach
        if coached not in room.participants or coached == member.call_sid:
            raise TwilioError(400, BAD_REQUEST, "CallSidToCoach must be another participant of the conference")
    if "Hold" in form and form.flag("Hold", False) != member.hold:
        member.hold = not member.hold
        member.hold_url = form.get("HoldUrl") if member.hold else None
        sim.queue_conference_event(room, "participant-hold" if member.hold else "participant-unhold", member)
        _play_hold(sim, member, form)
    if "Muted" in form and form.flag("Muted", False) != member.muted:
        member.muted = not member.muted
        sim.queue_conference_event(room, "participant-mute" if member.muted else "participant-unmute", member)
    if "Coaching" in form or "CallSidToCoach" in form:
        member.coaching = form.flag("Coaching", member.coaching)
        member.call_sid_to_coach = (form.get("CallSidToCoach") or member.call_sid_to_coach) if member.coaching else None
        sim.queue_conference_event(room, "participant-modify", member)
    if "EndConferenceOnExit" in form:
        member.end_on_exit = form.flag("EndConferenceOnExit", False)
    return shape.participant_json(sim, room, member, "connected")


def _play_hold(sim: SimulatedTwilio, member: SimParticipant, form: Fields) -> None:
    call = sim.calls[member.call_sid]
    if not member.hold:
        call.hold_next = None
    elif member.hold_url:
        sim.enqueue(
            sim.outgoing(
                member.hold_url, sim.call_params(call), call.sid, follow="hold", method=form.get("HoldMethod") or "GET"
            )
        )
    else:
        call.heard.append("[music Twilio's hold music]")


def delete_participant(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> None:
    member = _participant(_conference(sim, path["ConferenceSid"]), path["CallSid"])
    # Whoever is removed leaves the call: a dialled leg hangs up; a caller's <Dial> ends.
    sim.end_call(sim.calls[member.call_sid], "completed", reason=REMOVED_VIA_API)


# Messages and recordings


def create_message(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    if not (form.get("From") or form.get("MessagingServiceSid")):
        raise TwilioError(400, 21603, "A 'From' phone number is required.")
    if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
        raise TwilioError(400, 21602, "Message body is required.")
    if form.get("From") and form.get("From") not in sim.owned_numbers:
        raise TwilioError(
            400,
            NOT_MESSAGE_CAPABLE,
            "The 'From' phone number provided is not a valid message-capable Twilio phone number for this account.",
        )
    if form.get("To") in sim.opted_out:
        raise TwilioError(400, UNSUBSCRIBED_RECIPIENT, "Attempt to send to unsubscribed recipient")
    message = shape.message_json(sim, form)
    sim.messages.append(message)
    return message


def fetch_recording(sim: SimulatedTwilio, form: Fields, query: Fields, **path: str) -> dict[str, Any]:
    recording = sim.recordings.get(path["Sid"])
    if recording is None:
        raise not_found(f"/Recordings/{path['Sid']}.json")
    return recording


# The definition's operation ids, each with what it does and the status it answers with.
HANDLERS = {
    "CreateCall": (create_call, 201),
    "FetchCall": (fetch_call, 200),
    "UpdateCall": (update_call, 200),
    "ListConference": (list_conference, 200),
    "FetchConference": (fetch_conference, 200),
    "UpdateConference": (update_conference, 200),
    "CreateParticipant": (create_participant, 201),
    "ListParticipant": (list_participant, 200),
    "FetchParticipant": (fetch_participant, 200),
    "UpdateParticipant": (update_participant, 200),
    "DeleteParticipant": (delete_participant, 204),
    "CreateMessage": (create_message, 201),
    "FetchRecording": (fetch_recording, 200),
}
__all__ = ["HANDLERS", "NOT_CONNECTED", "answer_ringing"]
