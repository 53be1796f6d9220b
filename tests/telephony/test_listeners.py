"""Listeners: taking the next caller atomically, presence, a line that does not connect, the
queue as listeners see it, and the browser headset's access token."""

import asyncio

from app.core.jobs import run_due_jobs
from telephony.provider import use_transport
from tests.scenarios import claims_of
from tests.telephony.conftest import calls, listener, presence_of, simulator_for


async def waiting_caller(sim):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    return caller


async def test_two_listeners_racing_for_one_caller_never_both_get_them(harness, sim):
    await waiting_caller(sim)
    (sam, sam_client), (alex, alex_client) = await listener(harness, "sam"), await listener(harness, "alex")
    first, second = await asyncio.gather(
        sam_client.post("/api/listener/calls/next"), alex_client.post("/api/listener/calls/next")
    )
    assert sorted([first.status_code, second.status_code]) == [200, 404]
    loser = first if first.status_code == 404 else second
    assert loser.json()["error"] == "nobody_waiting"
    [call] = await calls(harness)
    winner = sam if first.status_code == 200 else alex
    assert call.queue_state == "claimed" and call.listener_id == winner.id
    assert len(sim.rest_requests) == 1


async def test_two_listeners_and_two_callers_get_one_each_longest_wait_first(harness, sim):
    older = await waiting_caller(sim)
    harness.clock.advance(seconds=20)
    await waiting_caller(sim)
    (_, sam_client), (_, alex_client) = await listener(harness, "sam"), await listener(harness, "alex")
    first, second = await asyncio.gather(
        sam_client.post("/api/listener/calls/next"), alex_client.post("/api/listener/calls/next")
    )
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] != second.json()["id"]
    assert {first.json()["waiting_seconds"], second.json()["waiting_seconds"]} == {20, 0}
    older_call = next(c for c in await calls(harness) if c.call_sid == older.sid)
    assert older_call.queue_state == "claimed"


async def test_a_listener_holds_one_caller_at_a_time(harness, sim):
    await waiting_caller(sim)
    await waiting_caller(sim)
    _, client = await listener(harness)
    assert (await client.post("/api/listener/calls/next")).status_code == 200
    again = await client.post("/api/listener/calls/next")
    assert again.status_code == 409 and again.json()["error"] == "already_on_call"
    assert [c.queue_state for c in await calls(harness)] == ["claimed", "waiting"]


async def test_a_listener_taking_next_twice_at_once_still_holds_one_caller(harness, sim):
    # A double click: on PostgreSQL the second claim waits for the first's presence row, then
    # must see that it now holds a caller, though its own snapshot still shows that one waiting.
    await waiting_caller(sim)
    await waiting_caller(sim)
    _, client = await listener(harness)
    assert (await client.put("/api/listener/presence", json={"status": "available"})).status_code == 200
    first, second = await asyncio.gather(
        client.post("/api/listener/calls/next"), client.post("/api/listener/calls/next")
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    assert sorted(c.queue_state for c in await calls(harness)) == ["claimed", "waiting"]


async def test_presence_follows_the_call(harness, sim):
    sam, client = await listener(harness)
    assert (await client.get("/api/listener/presence")).json()["status"] == "offline"
    assert (await client.put("/api/listener/presence", json={"status": "available"})).json()["status"] == "available"
    caller = await waiting_caller(sim)
    await client.post("/api/listener/calls/next")
    busy = await client.put("/api/listener/presence", json={"status": "available"})
    assert busy.status_code == 409 and busy.json()["error"] == "on_call"
    await sim.deliver()
    on_call = (await client.get("/api/listener/presence")).json()
    assert on_call["status"] == "on-call" and on_call["current_call_id"] == (await calls(harness))[0].id
    await caller.hang_up()
    await sim.deliver()
    assert (await client.get("/api/listener/presence")).json()["status"] == "wrap-up"
    assert (await client.put("/api/listener/presence", json={"status": "available"})).status_code == 200
    refused = await client.put("/api/listener/presence", json={"status": "on-call"})
    assert refused.status_code == 422
    assert (await client.put("/api/listener/presence", json={"status": "asleep"})).status_code == 422


async def test_a_listener_who_does_not_answer_hands_the_caller_back(harness, sim):
    caller = await waiting_caller(sim)
    sam, client = await listener(harness)
    sim.unanswered.add(f"client:listener_{sam.id}")
    await client.post("/api/listener/calls/next")
    await sim.deliver()
    [call] = await calls(harness)
    assert call.queue_state == "waiting" and call.listener_id is None and caller.state == "waiting"
    assert (await presence_of(harness, sam.id)).current_call_id is None
    # Handed back, the caller is still first in the queue, and can be taken again.
    sim.unanswered.clear()
    assert (await client.post("/api/listener/calls/next")).json()["waiting_seconds"] == 0
    await sim.deliver()
    assert (await calls(harness))[0].queue_state == "connected"


async def test_a_refused_dial_hands_the_caller_back_at_once(harness, sim):
    await waiting_caller(sim)
    sam, client = await listener(harness)
    sim.account_sid = "AC" + "9" * 32  # the REST API now refuses the app's credentials
    taken = await client.post("/api/listener/calls/next")
    assert taken.status_code == 200
    [call] = await calls(harness)
    assert call.queue_state == "waiting" and call.claimed_at is None


async def test_an_unreachable_twilio_is_tried_again_then_hands_the_caller_back(make_harness):
    harness = await make_harness()  # the REST client points at a closed port
    sim = simulator_for(harness)
    use_transport(harness.runtime, None)
    await waiting_caller(sim)
    _, client = await listener(harness)
    assert (await client.post("/api/listener/calls/next")).status_code == 200
    assert (await calls(harness))[0].queue_state == "claimed"  # a second try is stored, seconds away
    harness.clock.advance(seconds=61)
    await run_due_jobs(harness.runtime)
    [call] = await calls(harness)
    assert call.queue_state == "waiting" and call.listener_id is None  # back at the front, not stranded
    await sim.close()


async def test_a_claim_whose_listener_never_joins_expires(harness, sim):
    await waiting_caller(sim)
    sam, client = await listener(harness)
    sim.slow_to_answer.add(f"client:listener_{sam.id}")  # the headset rings and rings
    await client.post("/api/listener/calls/next")
    await sim.deliver()
    assert (await calls(harness))[0].queue_state == "claimed"
    harness.clock.advance(seconds=61)
    await run_due_jobs(harness.runtime)
    [call] = await calls(harness)
    assert call.queue_state == "waiting" and call.listener_id is None
    assert (await presence_of(harness, sam.id)).current_call_id is None
    leg = next(c for c in sim.calls.values() if c.to == f"client:listener_{sam.id}")
    assert leg.ended  # the ringing line is stopped, so it cannot join later over another claim


async def test_the_queue_shows_waiting_callers_masked(harness, sim):
    await waiting_caller(sim)
    harness.clock.advance(seconds=40)
    await waiting_caller(sim)
    harness.clock.advance(seconds=5)
    _, client = await listener(harness)
    queue = (await client.get("/api/listener/queue")).json()
    assert queue["waiting"] == 2 and queue["longest_wait_seconds"] == 45
    assert [(c["position"], c["waiting_seconds"]) for c in queue["callers"]] == [(1, 45), (2, 5)]
    assert all("•••" in c["from_masked"] and "7700900" not in c["from_masked"] for c in queue["callers"])


async def test_the_listener_api_needs_a_signed_in_listener(harness):
    async with harness.client() as anonymous:
        assert (await anonymous.post("/api/listener/calls/next")).status_code == 401
    await harness.add_user("admin", "admin")
    admin = await harness.signed_in("admin")
    assert (await admin.get("/api/listener/queue")).status_code == 403


async def test_the_headset_token_carries_the_identity_and_voice_grant(make_harness):
    harness = await make_harness(
        twilio_api_key_sid="SK" + "2" * 32, twilio_api_key_secret="k" * 32, twilio_twiml_app_sid="AP" + "3" * 32
    )
    sam, client = await listener(harness)
    body = (await client.get("/api/listener/voice-token")).json()
    assert body["identity"] == f"listener_{sam.id}" and body["simulated"] is False
    claims = claims_of(body["token"])
    assert claims["iss"] == "SK" + "2" * 32 and claims["sub"] == "AC" + "1" * 32
    assert claims["grants"]["identity"] == f"listener_{sam.id}"
    assert claims["grants"]["voice"] == {"incoming": {"allow": True}, "outgoing": {"application_sid": "AP" + "3" * 32}}
    assert claims["exp"] - claims["nbf"] <= 3600


async def test_without_api_keys_the_token_is_simulated_in_development_only(make_harness):
    production_like = await make_harness()
    _, client = await listener(production_like)
    refused = await client.get("/api/listener/voice-token")
    assert refused.status_code == 503 and refused.json()["error"] == "voice_not_configured"
    development = await make_harness(environment="development", telephony="simulated")
    _, dev_client = await listener(development, "alex")
    body = (await dev_client.get("/api/listener/voice-token")).json()
    assert body["simulated"] is True and claims_of(body["token"])["grants"]["identity"] == body["identity"]


async def test_a_caller_who_hangs_up_while_the_listener_is_rung_stops_the_ringing(harness, sim, published):
    caller = await waiting_caller(sim)
    sam, client = await listener(harness)
    sim.slow_to_answer.add(f"client:listener_{sam.id}")
    await client.post("/api/listener/calls/next")
    await sim.deliver()
    harness.clock.advance(seconds=8)
    await caller.hang_up()
    await sim.deliver()
    [call] = await calls(harness)
    assert call.abandoned and call.queue_state == "ended" and call.answered_at is None
    assert sim.rest_requests[-1]["path"].endswith(f"/Calls/{call.listener_call_sid}.json")
    assert sim.calls[call.listener_call_sid].status == "canceled"
    sim.answer_ringing()  # too late: the leg is gone and joins nothing
    await sim.deliver()
    assert (await presence_of(harness, sam.id)).current_call_id is None
    assert not any(n == "call.answered" for n, _ in published)
