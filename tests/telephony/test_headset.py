"""The listener's headset: the kind each listener gets, the Voice SDK served by Openline, the
practice headset driving the simulator (ring, answer, mute, hang up, decline), and holding the
caller in their conference with the line's hold music."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.core.db import session_scope
from app.core.events import LiveEvent
from telephony.headset import SDK_DIST
from telephony.models import Call
from tests.telephony.conftest import calls, listener, simulator_for

SDK_BODY = "/* twilio voice sdk */ var Twilio = {};"
KEYS = dict(twilio_api_key_sid="SK" + "2" * 32, twilio_api_key_secret="k" * 32, twilio_twiml_app_sid="AP" + "3" * 32)


def installed_sdk(tmp_path):
    path = tmp_path / "node_modules" / SDK_DIST
    path.parent.mkdir(parents=True)
    path.write_text(SDK_BODY)
    return tmp_path / "node_modules"


async def headset_events(harness, user_id: int) -> list[dict]:
    async with session_scope(harness.runtime) as session:
        rows = await session.scalars(
            sa.select(LiveEvent)
            .where(LiveEvent.audience == f"user:{user_id}", LiveEvent.type == "headset")
            .order_by(LiveEvent.id)
        )
        return [row.data for row in rows]


@pytest.fixture
async def practice(make_harness):
    """Practice mode: simulated telephony, and the simulator's client legs ring until answered."""
    harness = await make_harness(environment="development", telephony="simulated")
    sim = simulator_for(harness)
    sim.headsets_ring = True
    yield harness, sim
    await sim.close()


async def test_each_listener_gets_the_headset_their_configuration_allows(make_harness, tmp_path):
    installed = await make_harness(node_modules_dir=str(installed_sdk(tmp_path)), **KEYS)
    sam, client = await listener(installed, "sam")
    body = (await client.get("/api/listener/headset")).json()
    assert body["kind"] == "twilio" and body["sdk_url"] == "/static/vendor/twilio-voice.min.js"
    assert re.fullmatch(r"listener_\d+", body["identity"]) and body["identity"] == f"listener_{sam.id}"
    assert body["state"] == "idle"

    no_app_needed = await make_harness(
        node_modules_dir=str(tmp_path / "node_modules"), **(KEYS | {"twilio_twiml_app_sid": ""})
    )
    _, client = await listener(no_app_needed, "jo")
    assert (await client.get("/api/listener/headset")).json()["kind"] == "twilio"

    no_keys = await make_harness(node_modules_dir=str(tmp_path / "node_modules"))
    _, client = await listener(no_keys, "alex")
    body = (await client.get("/api/listener/headset")).json()
    assert body["kind"] == "unavailable" and "OPENLINE_TWILIO_API_KEY_SID" in body["reason"]

    not_installed = await make_harness(node_modules_dir=str(tmp_path / "nowhere"), **KEYS)
    _, client = await listener(not_installed, "kim")
    body = (await client.get("/api/listener/headset")).json()
    assert body["kind"] == "unavailable" and "not installed" in body["reason"] and "desk phone" in body["reason"]

    practice_mode = await make_harness(
        environment="development", telephony="simulated", node_modules_dir=str(tmp_path / "nowhere")
    )
    _, client = await listener(practice_mode, "lee")
    assert (await client.get("/api/listener/headset")).json()["kind"] == "practice"

    _, client = await listener(installed, "desk", dial_address="+441632960123")
    body = (await client.get("/api/listener/headset")).json()
    assert body["kind"] == "desk" and body["dial_address"].endswith("0123") and "1632" not in body["dial_address"]


async def test_the_voice_sdk_is_served_by_openline_when_installed_and_404_when_not(make_harness, tmp_path):
    installed = await make_harness(node_modules_dir=str(installed_sdk(tmp_path)))
    async with installed.client() as client:
        sdk = await client.get("/static/vendor/twilio-voice.min.js")
    assert sdk.status_code == 200 and sdk.text == SDK_BODY
    assert sdk.headers["content-type"].startswith("text/javascript")
    missing = await make_harness(node_modules_dir=str(tmp_path / "nowhere"))
    async with missing.client() as client:
        gone = await client.get("/static/vendor/twilio-voice.min.js")
        still_static = await client.get("/static/listener.js")
    assert gone.status_code == 404 and gone.json()["error"] == "sdk_missing"
    assert still_static.status_code == 200


async def waiting_and_ringing(harness, sim):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    sam, client = await listener(harness)
    assert (await client.post("/api/listener/calls/next")).status_code == 200
    await sim.deliver()
    return caller, sam, client


async def test_the_practice_headset_rings_answers_mutes_and_hangs_up_in_the_simulator(practice):
    harness, sim = practice
    caller, sam, client = await waiting_and_ringing(harness, sim)
    [call] = await calls(harness)
    leg = sim.calls[call.listener_call_sid]
    # Ringing, not answered: the listener's page rings and the caller still hears hold music.
    assert leg.status == "ringing" and call.queue_state == "claimed"
    assert await headset_events(harness, sam.id) == [{"state": "ringing", "call_id": call.id}]
    shown = (await client.get("/api/listener/headset")).json()
    assert (shown["state"], shown["call_id"]) == ("ringing", call.id)

    assert (await client.post("/api/listener/headset/answer")).json() == {"action": "answer", "muted": False}
    await sim.deliver()
    room = sim.conferences[call.conference_name]
    assert leg.sid in room.participants and caller.sid in room.participants
    [call] = await calls(harness)
    assert call.queue_state == "connected"
    assert (await headset_events(harness, sam.id))[-1] == {"state": "connected", "call_id": call.id}

    assert (await client.post("/api/listener/headset/mute")).json()["muted"] is True
    assert room.participants[leg.sid].muted is True
    assert (await client.post("/api/listener/headset/unmute")).json()["muted"] is False
    assert room.participants[leg.sid].muted is False

    assert (await client.post("/api/listener/headset/hangup")).status_code == 200
    assert leg.ended and leg.sid not in room.participants
    await sim.deliver()
    assert (await headset_events(harness, sam.id))[-1] == {"state": "ended", "call_id": call.id}
    # The caller is alone in the conference for a moment (the rescue waits), but the headset is free.
    assert (await client.get("/api/listener/headset")).json()["state"] == "idle"
    again = await client.post("/api/listener/headset/hangup")
    assert again.status_code == 409 and again.json()["error"] == "headset_idle"


async def test_declining_on_the_practice_headset_puts_the_caller_back_first_in_the_queue(practice):
    harness, sim = practice
    caller, sam, client = await waiting_and_ringing(harness, sim)
    [call] = await calls(harness)
    assert (await client.post("/api/listener/headset/decline")).status_code == 200
    # Twilio reports a client that rejects the call as busy.
    assert sim.calls[call.listener_call_sid].status == "busy"
    await sim.deliver()
    [call] = await calls(harness)
    assert call.queue_state == "waiting" and call.listener_id is None
    assert (await headset_events(harness, sam.id))[-1] == {"state": "ended", "call_id": call.id}
    assert not sim.calls[caller.sid].ended


async def test_practice_buttons_need_practice_mode_and_a_line(make_harness, practice):
    harness = await make_harness()
    _, client = await listener(harness)
    refused = await client.post("/api/listener/headset/answer")
    assert refused.status_code == 409 and refused.json()["error"] == "not_practice"
    practice_harness, sim = practice
    _, practising = await listener(practice_harness, "alex")
    idle = await practising.post("/api/listener/headset/answer")
    assert idle.status_code == 409 and "nothing is ringing" in idle.json()["detail"]
    assert (await practising.post("/api/listener/headset/explode")).status_code == 422


async def test_hold_puts_the_caller_on_the_lines_hold_music_by_conference_sid(practice):
    harness, sim = practice
    caller, sam, client = await waiting_and_ringing(harness, sim)
    await client.post("/api/listener/headset/answer")
    await sim.deliver()
    [call] = await calls(harness)
    assert call.conference_sid and call.conference_sid.startswith("CF")

    held = await client.post("/api/listener/calls/current/hold", json={"hold": True})
    assert held.json() == {"call_id": call.id, "hold": True}
    update = sim.rest_requests[-1]
    assert update["path"].endswith(f"/Conferences/{call.conference_sid}/Participants/{caller.sid}.json")
    assert update["form"]["Hold"] == "true"
    assert update["form"]["HoldUrl"] == "https://openline.example.org/telephony/voice/wait"
    room = sim.conferences[call.conference_name]
    assert room.participants[caller.sid].hold is True

    assert (await client.post("/api/listener/calls/current/hold", json={"hold": False})).json()["hold"] is False
    assert room.participants[caller.sid].hold is False
    assert "HoldUrl" not in sim.rest_requests[-1]["form"]
    await sim.deliver()
    [call] = await calls(harness)
    assert call.queue_state == "connected"


async def test_hold_is_refused_without_a_caller_and_finds_the_conference_before_its_callbacks(practice):
    harness, sim = practice
    caller, sam, client = await waiting_and_ringing(harness, sim)
    nobody = await client.post("/api/listener/calls/current/hold", json={"hold": True})
    assert nobody.status_code == 409 and nobody.json()["error"] == "no_current_call"
    await client.post("/api/listener/headset/answer")
    await sim.deliver()
    async with session_scope(harness.runtime) as session:
        await session.execute(sa.update(Call).values(conference_sid=None))  # no callback has brought it yet
    held = await client.post("/api/listener/calls/current/hold", json={"hold": True})
    assert held.status_code == 200, held.text
    room = next(iter(sim.conferences.values()))
    assert room.participants[caller.sid].hold is True  # found by name through the Conferences list
