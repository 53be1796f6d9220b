"""The Twilio twin refuses what Twilio refuses and behaves on the caller's side as Twilio does.

Real HTTP to the simulator's REST app (httpx, in-process) and a small stand-in for Openline that
answers the simulator's webhooks with fixed TwiML, so each test shows one rule of Twilio's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from app.core.clock import FakeClock
from app.core.settings import Settings
from telephony.simulator import LINE_NUMBER, SILENCE, Simulator

ACCOUNT = "AC" + "1" * 32
TOKEN = "twin-test-auth-token-0123456789"
APP = "https://openline.example.org"
BASE = f"/2010-04-01/Accounts/{ACCOUNT}"
CALLER_ID = "+441234567890"
ROOM = (
    '<Response><Dial><Conference startConferenceOnEnter="false" endConferenceOnExit="true" '
    f'waitUrl="{APP}/wait" statusCallback="{APP}/conference" '
    'statusCallbackEvent="start end join leave hold mute modify">room-1</Conference></Dial></Response>'
)


class StandIn:
    """Openline's side: fixed TwiML per path, and every request it received."""

    def __init__(self) -> None:
        self.answers: dict[str, str] = {"/telephony/voice/incoming": ROOM, "/wait": "<Response/>"}
        self.received: list[tuple[str, str, dict[str, str]]] = []
        self.app = FastAPI()

        @self.app.api_route("/{path:path}", methods=["GET", "POST"])
        async def answer(path: str, request: Request) -> Response:
            form = dict(await request.form()) if request.method == "POST" else dict(request.query_params)
            self.received.append((request.method, "/" + path, {k: str(v) for k, v in form.items()}))
            return Response(self.answers.get("/" + path, "<Response/>"), media_type="application/xml")

    def to(self, path: str) -> list[dict[str, str]]:
        return [form for _method, where, form in self.received if where == path]


@pytest.fixture
async def twin() -> AsyncIterator[tuple[Simulator, StandIn, httpx.AsyncClient]]:
    openline = StandIn()
    sim = Simulator(
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        public_url=APP,
        clock=FakeClock(),
        seed=3,
        webhook_transport=httpx.ASGITransport(app=openline.app),
        owned_numbers={LINE_NUMBER, CALLER_ID},
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app), base_url="http://twin", auth=(ACCOUNT, TOKEN)
    ) as rest:
        yield sim, openline, rest
    await sim.close()


async def waiting_caller(sim: Simulator) -> Any:
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    return caller


async def add_listener(sim: Simulator, rest: httpx.AsyncClient, room: str = "room-1", **extra: str) -> str:
    answer = await rest.post(
        f"{BASE}/Conferences/{room}/Participants.json",
        data={
            "From": CALLER_ID,
            "To": "client:listener_1",
            "Label": "listener",
            "StatusCallback": f"{APP}/status",
            "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
            **extra,
        },
    )
    assert answer.status_code == 201, answer.text
    await sim.deliver()
    return answer.json()["call_sid"]


def room_sid(sim: Simulator) -> str:
    return sim.conferences["room-1"].sid


def assert_refused(answer: httpx.Response, status: int, code: int) -> None:
    body = answer.json()
    assert (answer.status_code, body["status"], body["code"]) == (status, status, code), body
    assert body["more_info"].endswith(str(code)) and body["message"]


# Refusals from the published definition


async def test_a_participant_is_updated_and_removed_only_through_the_conference_sid(twin):
    sim, _openline, rest = twin
    caller = await waiting_caller(sim)
    by_name = f"{BASE}/Conferences/room-1/Participants/{caller.sid}.json"
    assert_refused(await rest.post(by_name, data={"Hold": "true"}), 404, 20404)
    assert_refused(await rest.delete(by_name), 404, 20404)
    by_sid = f"{BASE}/Conferences/{room_sid(sim)}/Participants/{caller.sid}.json"
    assert (await rest.post(by_sid, data={"Hold": "true"})).json()["hold"] is True
    assert (await rest.delete(by_sid)).status_code == 204
    assert caller.state == "ended"


async def test_fields_the_definition_does_not_allow_are_refused(twin):
    sim, _openline, rest = twin
    caller = await waiting_caller(sim)
    participant = f"{BASE}/Conferences/{room_sid(sim)}/Participants/{caller.sid}.json"
    assert_refused(await rest.post(participant, data={"OnHold": "true"}), 400, 400)  # unknown field
    assert_refused(await rest.post(participant, data={"Muted": "yes"}), 400, 400)  # not a boolean
    assert_refused(await rest.post(participant, data={"HoldMethod": "PUT"}), 400, 400)  # not in the enum
    assert_refused(await rest.post(f"{BASE}/Calls/{caller.sid}.json", data={"Status": "paused"}), 400, 400)
    create = {"From": CALLER_ID, "To": "client:a", "Timeout": "twenty"}
    assert_refused(await rest.post(f"{BASE}/Conferences/room-1/Participants.json", data=create), 400, 400)
    events = {"From": CALLER_ID, "To": "client:a", "StatusCallbackEvent": "picked-up"}
    assert_refused(await rest.post(f"{BASE}/Conferences/room-1/Participants.json", data=events), 400, 400)
    assert sim.conferences["room-1"].participants[caller.sid].muted is False  # nothing acted on


async def test_required_fields_and_a_sid_of_the_wrong_kind(twin):
    _sim, _openline, rest = twin
    assert_refused(await rest.post(f"{BASE}/Calls.json", data={"From": CALLER_ID, "Url": f"{APP}/x"}), 400, 21201)
    assert_refused(await rest.post(f"{BASE}/Calls.json", data={"To": "+447700900123", "Url": f"{APP}/x"}), 400, 21213)
    assert_refused(await rest.post(f"{BASE}/Messages.json", data={"From": CALLER_ID, "Body": "hi"}), 400, 21604)
    assert_refused(await rest.get(f"{BASE}/Calls/call-123.json"), 404, 20404)
    assert_refused(await rest.get(f"{BASE}/Calls/CA{'0' * 32}.json"), 404, 20404)


async def test_from_must_be_a_number_of_the_account(twin):
    sim, _openline, rest = twin
    await waiting_caller(sim)
    stranger = "+441234000999"
    call = {"From": stranger, "To": "+447700900123", "Url": f"{APP}/x"}
    assert_refused(await rest.post(f"{BASE}/Calls.json", data=call), 400, 21210)
    leg = {"From": stranger, "To": "client:listener_1"}
    assert_refused(await rest.post(f"{BASE}/Conferences/room-1/Participants.json", data=leg), 400, 21210)
    text = {"From": stranger, "To": "+447700900123", "Body": "We will call you back"}
    assert_refused(await rest.post(f"{BASE}/Messages.json", data=text), 400, 21606)
    assert (await rest.post(f"{BASE}/Messages.json", data=text | {"From": CALLER_ID})).status_code == 201


def test_the_app_s_caller_id_and_the_line_are_the_account_s_numbers():
    settings = Settings(_env_file=None, environment="development", twilio_caller_id=CALLER_ID)
    assert Simulator.settings_kwargs(settings)["owned_numbers"] == {LINE_NUMBER, CALLER_ID}


# Reading the world back: what the app will use to reconcile after a restart


async def test_a_call_s_live_status_and_a_live_conference_found_by_name(twin):
    sim, _openline, rest = twin
    caller = await waiting_caller(sim)
    assert (await rest.get(f"{BASE}/Calls/{caller.sid}.json")).json()["status"] == "in-progress"
    found = (await rest.get(f"{BASE}/Conferences.json", params={"FriendlyName": "room-1", "Status": "init"})).json()[
        "conferences"
    ]
    assert [c["sid"] for c in found] == [room_sid(sim)]
    await add_listener(sim, rest)
    live = (
        await rest.get(f"{BASE}/Conferences.json", params={"FriendlyName": "room-1", "Status": "in-progress"})
    ).json()["conferences"]
    assert [c["sid"] for c in live] == [room_sid(sim)]
    assert_refused(await rest.get(f"{BASE}/Conferences.json", params={"Status": "live"}), 400, 400)
    await caller.hang_up()
    assert (await rest.get(f"{BASE}/Calls/{caller.sid}.json")).json()["status"] == "completed"
    ended = (await rest.get(f"{BASE}/Conferences/{room_sid(sim)}.json")).json()
    assert (ended["status"], ended["reason_conference_ended"]) == (
        "completed",
        "participant-with-end-conference-on-exit-left",
    )
    gone = f"{BASE}/Conferences/{room_sid(sim)}/Participants/listener.json"
    assert_refused(await rest.post(gone, data={"Muted": "true"}), 404, 20404)


# The caller's side


async def test_the_wait_url_is_requested_once_and_then_there_is_silence(twin):
    sim, openline, _rest = twin
    openline.answers["/wait"] = "<Response><Say>Please hold.</Say><Play>https://x/music.mp3</Play></Response>"
    caller = await waiting_caller(sim)
    assert len(openline.to("/wait")) == 1
    assert caller.heard[-3:] == ["Please hold.", "[music https://x/music.mp3]", SILENCE]
    assert await caller.hear_hold_music() == ""
    await sim.deliver()
    assert len(openline.to("/wait")) == 1


async def test_a_wait_document_ending_in_redirect_is_asked_again(twin):
    sim, openline, _rest = twin
    openline.answers["/wait"] = (
        f'<Response><Say>Please hold.</Say><Redirect method="GET">{APP}/wait</Redirect></Response>'
    )
    caller = await waiting_caller(sim)
    assert await caller.hear_hold_music() == openline.answers["/wait"]
    assert [method for method, path, _ in openline.received if path == "/wait"] == ["POST", "GET"]
    assert caller.heard[-2:] == ["Please hold.", "Please hold."] and SILENCE not in caller.heard


async def test_a_wait_document_may_not_use_other_verbs(twin):
    sim, openline, _rest = twin
    openline.answers["/wait"] = "<Response><Say>Press 1</Say><Gather numDigits='1'/></Response>"
    caller = await waiting_caller(sim)
    assert [e["code"] for e in sim.errors] == [13238]
    assert "Press 1" not in caller.heard and caller.heard[-1] == SILENCE


async def test_a_coach_is_heard_only_by_the_listener_they_coach(twin):
    sim, _openline, rest = twin
    caller = await waiting_caller(sim)
    listener = await add_listener(sim, rest)
    supervisor = (
        await rest.post(
            f"{BASE}/Conferences/{room_sid(sim)}/Participants.json",
            data={"From": CALLER_ID, "To": "client:supervisor_1", "Coaching": "true", "CallSidToCoach": listener},
        )
    ).json()
    await sim.deliver()
    coach = supervisor["call_sid"]
    assert sim.can_hear(listener, coach) and not sim.can_hear(caller.sid, coach)
    assert sim.can_hear(coach, caller.sid) and sim.can_hear(caller.sid, listener)
    hold = f"{BASE}/Conferences/{room_sid(sim)}/Participants/{caller.sid}.json"
    await rest.post(hold, data={"Hold": "true"})
    assert not sim.can_hear(listener, caller.sid) and not sim.can_hear(caller.sid, listener)
    await rest.post(
        f"{BASE}/Conferences/{room_sid(sim)}/Participants/{coach}.json", data={"Coaching": "false", "Muted": "true"}
    )
    assert not sim.can_hear(listener, coach)
    state = (await rest.get("/_sim/state")).json()["conferences"]["room-1"]["hearing"]
    assert state[listener] == [] and set(state[coach]) == {listener}


# Callbacks and legs


async def test_chaos_duplicates_and_reorders_callbacks_yet_the_end_is_the_same(twin):
    sim, openline, rest = twin
    sim.chaos = True
    caller = await waiting_caller(sim)
    listener = await add_listener(sim, rest)
    await caller.hang_up()
    await sim.deliver()
    conference = openline.to("/conference")
    numbers = [int(form["SequenceNumber"]) for form in conference]
    assert len(numbers) > len(set(numbers))  # some sent twice (a retry, same idempotency token)
    assert numbers != sorted(numbers)  # and not in firing order
    assert set(numbers) == set(range(max(numbers) + 1))  # yet every one arrived
    assert sim.calls[listener].status == sim.calls[caller.sid].status == "completed"


async def test_a_call_to_the_line_reaches_the_status_callback_only_when_it_ends(twin):
    sim, openline, rest = twin
    caller = await waiting_caller(sim)
    await add_listener(sim, rest)

    def caller_statuses() -> list[str]:
        return [form["CallStatus"] for form in openline.to("/telephony/voice/status") if form["CallSid"] == caller.sid]

    # Rung, answered, held and joined by a listener: a number's status callback asks for no
    # events, so Twilio says nothing of it; the listener's leg asked for its own.
    assert caller_statuses() == []
    assert [form["CallStatus"] for form in openline.to("/status")] == ["initiated", "ringing", "in-progress"]
    await caller.hang_up()
    await sim.deliver()
    assert caller_statuses() == ["completed"]


@pytest.mark.parametrize("outcome", ["busy", "failed", "no-answer"])
async def test_a_leg_that_never_connects_says_so(twin, outcome):
    sim, openline, rest = twin
    await waiting_caller(sim)
    getattr(sim, {"busy": "busy", "failed": "failing", "no-answer": "unanswered"}[outcome]).add("client:listener_1")
    listener = await add_listener(sim, rest)
    assert openline.to("/status")[-1]["CallStatus"] == outcome
    [leave] = [f for f in openline.to("/conference") if f["StatusCallbackEvent"] == "participant-leave"]
    assert (leave["CallSid"], leave["ParticipantCallStatus"]) == (listener, outcome)
    assert listener not in sim.conferences["room-1"].participants


async def test_a_leg_dropping_mid_call_leaves_and_ends_the_conference_when_last(twin):
    sim, openline, rest = twin
    caller = await waiting_caller(sim)
    listener = await add_listener(sim, rest, EndConferenceOnExit="false")
    sim.drop(listener)
    await sim.deliver()
    leave = [f for f in openline.to("/conference") if f["StatusCallbackEvent"] == "participant-leave"][-1]
    assert (leave["CallSid"], leave["ReasonParticipantLeft"], leave["ParticipantCallStatus"]) == (
        listener,
        "participant_hung_up",
        "completed",
    )
    assert list(sim.conferences["room-1"].participants) == [caller.sid]  # the caller stays, alone
    assert sim.calls[listener].status == "completed"
    sim.drop(caller.sid)
    await sim.deliver()
    end = openline.to("/conference")[-1]
    assert (end["StatusCallbackEvent"], end["ReasonConferenceEnded"], end["CallSidEndingConference"]) == (
        "conference-end",
        "participant-with-end-conference-on-exit-left",
        caller.sid,
    )


# <Gather> and texts: the survey after the call

SURVEY = (
    '<Response><Gather input="dtmf" numDigits="1" timeout="8" finishOnKey="" action="{APP}/survey?q=1" '
    'method="POST"><Say>How much did it help?</Say></Gather><Say>Still there?</Say>'
    "<Redirect>{APP}/survey?q=1&amp;again=1</Redirect></Response>"
)


async def surveyed_caller(sim: Simulator, rest: httpx.AsyncClient, openline: StandIn, document: str) -> Any:
    """A caller moved out of their conference (as the end button does) to a document with a <Gather>."""
    openline.answers["/survey"] = document
    caller = await waiting_caller(sim)
    updated = await rest.post(f"{BASE}/Calls/{caller.sid}.json", data={"Url": f"{APP}/survey", "Method": "POST"})
    assert updated.status_code == 200, updated.text
    await sim.deliver()
    return caller


async def test_a_gather_posts_its_digits_to_the_action_and_plays_the_answer(twin):
    sim, openline, rest = twin
    caller = await surveyed_caller(sim, rest, openline, SURVEY.format(APP=APP))
    assert caller.heard[-1] == "How much did it help?" and caller.asked
    openline.answers["/survey"] = "<Response><Say>Thank you.</Say><Hangup/></Response>"
    await caller.press("45")  # numDigits=1: only the first key is sent
    [first, action] = openline.to("/survey")
    assert "Digits" not in first
    assert (action["Digits"], action["CallSid"], action["FinishedOnKey"]) == ("4", caller.sid, "")
    assert caller.heard[-1] == "Thank you." and caller.state == "ended"


async def test_a_gather_that_hears_nothing_plays_the_next_verbs_not_the_action(twin):
    sim, openline, rest = twin
    caller = await surveyed_caller(sim, rest, openline, SURVEY.format(APP=APP))
    await caller.stay_silent()
    assert caller.heard[-3:-1] == ["How much did it help?", "Still there?"]
    assert all("Digits" not in form for form in openline.to("/survey"))
    assert len(openline.to("/survey")) == 2  # the first request and the <Redirect>


async def test_the_finish_key_ends_the_keys_and_is_not_sent(twin):
    sim, openline, rest = twin
    document = f'<Response><Gather numDigits="4" action="{APP}/survey?q=pin"><Say>Code?</Say></Gather></Response>'
    caller = await surveyed_caller(sim, rest, openline, document)
    await caller.press("12#9")
    assert (openline.to("/survey")[-1]["Digits"], openline.to("/survey")[-1]["FinishedOnKey"]) == ("12", "#")


async def test_a_gather_twilio_would_refuse_is_an_application_error(twin):
    sim, openline, rest = twin
    for bad in (
        '<Gather numDigits="0" action="x"><Say>a</Say></Gather>',
        '<Gather timeout="soon"><Say>a</Say></Gather>',
        '<Gather input="keys"><Say>a</Say></Gather>',
        '<Gather finishOnKey="ab"><Say>a</Say></Gather>',
        '<Gather method="PUT"><Say>a</Say></Gather>',
        "<Gather><Dial>+447700900123</Dial></Gather>",
    ):
        caller = await surveyed_caller(sim, rest, openline, f"<Response>{bad}</Response>")
        assert caller.heard[-1] == "An application error has occurred." and caller.state == "ended", bad
        assert sim.errors[-1]["code"] == 12200
    assert len(sim.errors) == 6


async def test_an_inbound_text_is_signed_as_twilio_signs_it(twin):
    sim, openline, _rest = twin
    sim.text_line("+447700900321", "4 yes")
    [sent] = await sim.deliver()
    [form] = openline.to("/telephony/messaging/incoming")
    assert form["Body"] == "4 yes" and form["From"] == "+447700900321" and form["To"] in sim.owned_numbers
    assert form["MessageSid"].startswith("SM") and len(form["MessageSid"]) == 34
    assert form["SmsStatus"] == "received" and form["NumMedia"] == "0" and sent.status == 200


async def test_after_stop_twilio_refuses_to_text_that_number_until_start(twin):
    sim, _openline, rest = twin
    message = {"From": CALLER_ID, "To": "+447700900321", "Body": "Two quick questions"}
    sim.text_line("+447700900321", "Stop")
    await sim.deliver()
    assert_refused(await rest.post(f"{BASE}/Messages.json", data=message), 400, 21610)
    sim.text_line("+447700900321", "START")
    await sim.deliver()
    assert (await rest.post(f"{BASE}/Messages.json", data=message)).status_code == 201
