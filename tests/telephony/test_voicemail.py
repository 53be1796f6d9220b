"""Overflow to voicemail: nobody waits forever; a message becomes a callback request that one
listener claims."""

import asyncio

from app.core.jobs import run_due_jobs
from tests.scenarios import overflowed_caller
from tests.telephony.conftest import callbacks, calls, listener, simulator_for


async def test_a_long_wait_overflows_to_voicemail_and_a_callback_request(harness, sim, published):
    caller = await overflowed_caller(harness, sim)
    redirect = sim.rest_requests[-1]
    assert redirect["path"].endswith(f"/Calls/{caller.sid}.json")
    assert redirect["form"]["Url"] == "https://openline.example.org/telephony/voice/voicemail?reason=overflow"
    assert caller.state == "recording" and "leave a message after the tone" in caller.heard[-1]
    [call] = await calls(harness)
    assert call.queue_state == "voicemail" and call.wait_seconds == harness.runtime.settings.max_wait_seconds + 1
    harness.clock.advance(seconds=30)
    saved = await caller.leave_message(seconds=25)
    assert "message has been saved" in saved and caller.state == "ended"
    await sim.deliver(duplicate=True)
    [call] = await calls(harness)
    assert call.queue_state == "ended" and not call.abandoned and call.status == "completed"
    [request] = await callbacks(harness)
    assert request.call_id == call.id and request.reason == "overflow" and request.status == "open"
    assert request.recording_seconds == 25 and "api.twilio.com" not in request.recording_url_encrypted
    assert harness.runtime.crypto.decrypt(request.recording_url_encrypted).startswith("https://api.twilio.com/")
    assert [p for n, p in published if n == "callback.requested"] == [
        {"callback_request_id": request.id, "call_id": call.id, "reason": "overflow"}
    ]


async def test_the_wait_url_tells_an_overdue_caller_and_moves_them(harness, sim):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=harness.runtime.settings.max_wait_seconds + 5)
    heard = await caller.hear_hold_music()
    assert "you can leave a message" in heard and "caller number" not in heard
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    assert caller.state == "recording"
    assert len([r for r in sim.rest_requests if r["path"].endswith(f"/Calls/{caller.sid}.json")]) == 1


async def test_a_caller_taken_before_the_deadline_is_not_moved(harness, sim):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    _, client = await listener(harness)
    await client.post("/api/listener/calls/next")
    await sim.deliver()
    harness.clock.advance(seconds=harness.runtime.settings.max_wait_seconds + 1)
    await run_due_jobs(harness.runtime)
    assert caller.state == "connected" and (await calls(harness))[0].queue_state == "connected"
    assert not any(r["path"].endswith(f"/Calls/{caller.sid}.json") for r in sim.rest_requests)


async def test_a_caller_gone_without_a_status_callback_is_closed_by_the_overflow(harness, sim):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    await caller.hang_up()
    sim.outbox.clear()  # the status callbacks are lost
    harness.clock.advance(seconds=harness.runtime.settings.max_wait_seconds + 1)
    await run_due_jobs(harness.runtime)
    [call] = await calls(harness)
    assert call.queue_state == "ended" and call.abandoned


async def test_hanging_up_at_the_prompt_still_leaves_a_way_back(harness, sim):
    caller = await overflowed_caller(harness, sim)
    await caller.hang_up()
    await sim.deliver()
    [request] = await callbacks(harness)
    assert request.reason == "no-message" and request.recording_url_encrypted is None


async def test_a_closed_line_takes_a_message(make_harness):
    harness = await make_harness(line_open=False)
    sim = simulator_for(harness)
    caller = sim.caller()
    assert "cannot take calls" in await caller.arrive()
    await caller.leave_message(seconds=12)
    await sim.deliver()
    [request] = await callbacks(harness)
    assert request.reason == "line-closed" and request.recording_seconds == 12
    await sim.close()


async def test_one_listener_claims_a_callback(harness, sim):
    caller = await overflowed_caller(harness, sim)
    await caller.leave_message(seconds=25)
    await sim.deliver()
    (_, sam_client), (_, alex_client) = await listener(harness, "sam"), await listener(harness, "alex")
    [listed] = (await sam_client.get("/api/listener/callbacks")).json()
    assert listed["status"] == "open" and listed["has_recording"] and listed["recording"] is None
    assert "•••" in listed["from_masked"]
    first, second = await asyncio.gather(
        sam_client.post(f"/api/listener/callbacks/{listed['id']}/claim"),
        alex_client.post(f"/api/listener/callbacks/{listed['id']}/claim"),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    won = first if first.status_code == 200 else second
    assert (
        won.json()["status"] == "claimed"
        and won.json()["recording"] == f"/api/listener/callbacks/{listed['id']}/recording"
    )
    winner = sam_client if won is first else alex_client
    loser = alex_client if won is first else sam_client
    assert (await loser.get("/api/listener/callbacks")).json() == []
    assert (await loser.post(f"/api/listener/callbacks/{listed['id']}/complete")).status_code == 404
    assert (await winner.post(f"/api/listener/callbacks/{listed['id']}/complete")).json()["status"] == "done"
    assert (await winner.post("/api/listener/callbacks/999/claim")).status_code == 404
