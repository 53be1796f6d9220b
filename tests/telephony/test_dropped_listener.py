"""A listener's line drops mid-call with nobody else on it: the caller is not left in silence but
offered a message, and becomes an urgent callback; a normal end, or a live handover with the
partner on the line, changes nothing."""

from app.core.jobs import run_due_jobs
from telephony.lifecycle import CALLER_ALONE_GRACE_SECONDS
from tests.scenarios import answered, listener_leg
from tests.telephony.conftest import callbacks, calls, listener, sim  # noqa: F401 - the simulator fixture


async def test_a_caller_whose_listener_drops_is_offered_a_message_and_an_urgent_callback(harness, sim):
    _, client = await listener(harness)
    caller, card = await answered(harness, sim, client)
    harness.clock.advance(minutes=12)
    sim.end_call(listener_leg(sim, caller), "completed")  # the listener's browser crashed
    await sim.deliver()
    assert caller.state == "connected"  # alone in the conference, for now
    assert (await client.get("/api/listener/presence")).json()["status"] == "wrap-up"

    harness.clock.advance(seconds=CALLER_ALONE_GRACE_SECONDS)
    assert await run_due_jobs(harness.runtime) >= 1
    await sim.deliver()
    assert caller.state == "recording" and "the line to your listener dropped" in caller.heard[-1]
    [call] = await calls(harness)
    assert call.queue_state == "voicemail"
    await caller.leave_message(seconds=15)
    await sim.deliver()
    [request] = await callbacks(harness)
    assert (request.reason, request.urgent, request.status) == ("disconnected", True, "open")

    # A listener rings them back: a new session of its own, and the earlier call is on its card.
    _, alex = await listener(harness, "alex")
    assert (await alex.post(f"/api/listener/callbacks/{request.id}/claim")).status_code == 200
    started = (await alex.post(f"/api/listener/callbacks/{request.id}/session")).json()
    assert started["id"] != card["id"]
    current = (await alex.get("/api/listener/sessions/current")).json()
    assert current["callback"] and current["caller"]["number"].endswith("321")
    repeat = (await alex.get(f"/api/listener/sessions/{started['id']}/repeat-caller")).json()
    assert repeat["earlier_contacts"] == 1


async def test_hanging_up_together_is_not_mistaken_for_a_dropped_line(harness, sim):
    _, client = await listener(harness)
    caller, _ = await answered(harness, sim, client)
    await caller.hang_up()  # the conference ends: the listener's leg leaves too
    await sim.deliver(shuffle=True)
    harness.clock.advance(seconds=CALLER_ALONE_GRACE_SECONDS)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    [call] = await calls(harness)
    assert call.queue_state == "ended" and await callbacks(harness) == []
    assert not [r for r in sim.rest_requests if "voicemail" in str(r.get("form", {}))]
