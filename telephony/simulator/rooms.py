"""Conferences in the simulated Twilio: who is in which room, who can hear whom, and the
conference callbacks Twilio sends about them (``SequenceNumber`` per conference; a
``participant-leave`` says why and with what call status; ``conference-end`` says why and which
call ended it)."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

# Why a participant left (``ReasonParticipantLeft``) and why a conference ended
# (``ReasonConferenceEnded``, the definition's ``conference_enum_reason_conference_ended``).
HUNG_UP = "participant_hung_up"
UPDATED_VIA_API = "participant_updated_via_api"
REMOVED_VIA_API = "participant_removed_via_api"
CALL_ENDED_VIA_API = "call_ended_via_api"
CONFERENCE_ENDED = "conference_ended"
NOT_CONNECTED = {
    "busy": "participant_busy",
    "failed": "participant_call_failed",
    "no-answer": "participant_no_answer",
    "canceled": "participant_call_canceled",
}
ENDED_BY_LEAVER = "participant-with-end-conference-on-exit-left"
ENDED_BY_KICKED = "participant-with-end-conference-on-exit-kicked"
LAST_LEFT = "last-participant-left"
LAST_KICKED = "last-participant-kicked"
ENDED_VIA_API = "conference-ended-via-api"


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _bool(value: bool) -> str:
    return str(value).lower()


@dataclass
class SimParticipant:
    call_sid: str
    label: str | None
    start_on_enter: bool
    end_on_exit: bool
    hold: bool = False
    muted: bool = False
    coaching: bool = False
    call_sid_to_coach: str | None = None
    hold_url: str | None = None


@dataclass
class SimConference:
    name: str
    sid: str
    status_callback: str | None
    events: frozenset[str]
    wait_url: str | None
    created: datetime
    participants: dict[str, SimParticipant] = field(default_factory=dict)
    started: bool = False
    ended: bool = False
    next_sequence: int = 0
    reason_ended: str | None = None
    call_sid_ending: str | None = None

    @property
    def status(self) -> str:
        """Twilio's conference statuses: init, in-progress, completed."""
        return "completed" if self.ended else "in-progress" if self.started else "init"


def conference_events(values: list[str]) -> frozenset[str]:
    # One value may hold several, separated by spaces ("start end join leave").
    return frozenset(part for value in values for part in value.split()) or frozenset({"start", "end"})


class Rooms:
    """The conference half of ``SimulatedTwilio`` (which provides calls, the clock and the outbox)."""

    calls: dict[str, Any]
    conferences: dict[str, SimConference]
    conferences_by_sid: dict[str, SimConference]
    account_sid: str

    def open_conference(
        self, name: str, *, status_callback: str | None, events: frozenset[str], wait_url: str | None
    ) -> SimConference:
        """The live conference of that name, or a new one (only its first participant's
        ``statusCallback`` and events count, as on Twilio)."""
        conference = self.conferences.get(name)
        if conference is None or conference.ended:
            conference = SimConference(
                name=name,
                sid=new_sid("CF"),
                status_callback=status_callback,
                events=events,
                wait_url=wait_url,
                created=self.now(),
            )
            self.conferences[name] = self.conferences_by_sid[conference.sid] = conference
        return conference

    def queue_conference_event(
        self, conference: SimConference, event: str, participant: SimParticipant | None = None, **extra: str
    ) -> None:
        short = event.split("-", 1)[1]
        wanted = {"unhold": "hold", "unmute": "mute"}.get(short, short)
        if not conference.status_callback or wanted not in conference.events:
            return
        params = {
            "AccountSid": self.account_sid,
            "ConferenceSid": conference.sid,
            "FriendlyName": conference.name,
            "StatusCallbackEvent": event,
            "SequenceNumber": str(conference.next_sequence),
            "Timestamp": format_datetime(self.now(), usegmt=True),
        }
        conference.next_sequence += 1
        if participant is not None:
            params.update(
                CallSid=participant.call_sid,
                Hold=_bool(participant.hold),
                Muted=_bool(participant.muted),
                Coaching=_bool(participant.coaching),
                EndConferenceOnExit=_bool(participant.end_on_exit),
                StartConferenceOnEnter=_bool(participant.start_on_enter),
            )
            if participant.coaching and participant.call_sid_to_coach:
                params["CallSidToCoach"] = participant.call_sid_to_coach
            if participant.label:
                params["ParticipantLabel"] = participant.label
        params.update(extra)
        self.enqueue(self.outgoing(conference.status_callback, params, participant.call_sid if participant else None))

    def join_conference(self, call: Any, element: ET.Element) -> None:
        """``<Dial><Conference>``: the caller joins (and may wait, hearing the wait URL)."""
        conference = self.open_conference(
            (element.text or "").strip(),
            status_callback=element.get("statusCallback"),
            events=conference_events([element.get("statusCallbackEvent") or ""]),
            wait_url=element.get("waitUrl"),
        )
        participant = SimParticipant(
            call.sid,
            None,
            element.get("startConferenceOnEnter", "true") == "true",
            element.get("endConferenceOnExit", "false") == "true",
        )
        self.add_to_conference(
            call,
            conference,
            participant,
            wait_url=element.get("waitUrl"),
            wait_method=element.get("waitMethod") or "POST",
        )

    def add_to_conference(
        self,
        call: Any,
        conference: SimConference,
        participant: SimParticipant,
        *,
        wait_url: str | None = None,
        wait_method: str = "POST",
    ) -> None:
        call.conference = conference.name
        call.label = participant.label
        conference.participants[call.sid] = participant
        self.queue_conference_event(conference, "participant-join", participant)
        if participant.start_on_enter and not conference.started:
            conference.started = True
            self.queue_conference_event(conference, "conference-start")
            for waiting in conference.participants:
                self.calls[waiting].hold_next = None  # the wait music stops for everyone
        if not conference.started and wait_url:
            # Requested once, when the participant starts waiting; only a <Redirect> asks again.
            self.enqueue(self.outgoing(wait_url, self.call_params(call), call.sid, follow="wait", method=wait_method))

    def leave_conference(self, call: Any, reason: str = HUNG_UP, *, call_status: str | None = None) -> None:
        conference = self.conferences.get(call.conference or "")
        call.conference = None
        call.hold_next = None
        if conference is None or call.sid not in conference.participants:
            return
        participant = conference.participants.pop(call.sid)
        self.queue_conference_event(
            conference,
            "participant-leave",
            participant,
            ReasonParticipantLeft=reason,
            ParticipantCallStatus=call_status or call.status,
        )
        if participant.end_on_exit:
            kicked = reason in (REMOVED_VIA_API, CALL_ENDED_VIA_API)
            self.end_conference(conference, ENDED_BY_KICKED if kicked else ENDED_BY_LEAVER, call.sid)
        elif not conference.participants:
            self.end_conference(conference, LAST_KICKED if reason == REMOVED_VIA_API else LAST_LEFT, call.sid)

    def end_conference(self, conference: SimConference, reason: str, ending_call: str | None = None) -> None:
        if conference.ended:
            return
        conference.ended = True
        conference.reason_ended, conference.call_sid_ending = reason, ending_call
        for sid in list(conference.participants):
            participant = conference.participants.pop(sid)
            other = self.calls[sid]
            other.conference = None
            other.hold_next = None
            # A leg dialled into the conference hangs up; a caller's <Dial> ends and, with no
            # TwiML after it, so does their call.
            self.queue_conference_event(
                conference,
                "participant-leave",
                participant,
                ReasonParticipantLeft=CONFERENCE_ENDED,
                ParticipantCallStatus="completed",
            )
            self.end_call(other, "completed")
        extra = {"ReasonConferenceEnded": reason}
        if ending_call:
            extra["CallSidEndingConference"] = ending_call
        self.queue_conference_event(conference, "conference-end", **extra)

    def leg_not_connected(self, room: SimConference, leg: Any, status: str) -> None:
        """A participant leg that was busy, failed or not answered leaves the room it never
        joined, saying so (Twilio sends ``participant-leave`` with the call's status)."""
        if room.ended or not room.participants:
            return
        ghost = SimParticipant(leg.sid, leg.label, False, False)
        self.queue_conference_event(
            room, "participant-leave", ghost, ReasonParticipantLeft=NOT_CONNECTED[status], ParticipantCallStatus=status
        )

    # Who hears whom

    def can_hear(self, listener_sid: str, speaker_sid: str) -> bool:
        """Whether ``listener_sid`` hears ``speaker_sid``: both in the same started conference; a
        held participant hears the hold music and nobody hears them; nobody hears a muted one;
        a coach is heard only by the participant they coach."""
        if listener_sid == speaker_sid:
            return False
        room = self.room_of(listener_sid)
        if room is None or not room.started or speaker_sid not in room.participants:
            return False
        listener, speaker = room.participants[listener_sid], room.participants[speaker_sid]
        if listener.hold or speaker.hold or speaker.muted:
            return False
        return not speaker.coaching or speaker.call_sid_to_coach == listener_sid

    def room_of(self, call_sid: str) -> SimConference | None:
        call = self.calls.get(call_sid)
        room = self.conferences.get(call.conference or "") if call else None
        return room if room is not None and call_sid in room.participants else None

    def hearing(self, conference: SimConference) -> dict[str, list[str]]:
        """For each participant, whom they hear (``/_sim/state``)."""
        return {
            listener: [speaker for speaker in conference.participants if self.can_hear(listener, speaker)]
            for listener in conference.participants
        }
