"""The REST client other packages use to change a live call (e.g. a warm transfer), against the
simulator: holds and removals come back as conference events and domain events."""

from telephony.provider import remove_participant, update_participant
from tests.telephony.conftest import calls, deliveries, listener, presence_of


async def test_holding_and_removing_participants(harness, sim, published):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    sam, client = await listener(harness)
    await client.post("/api/listener/calls/next")
    await sim.deliver()
    [call] = await calls(harness)
    await update_participant(harness.runtime, call.conference_name, caller.sid, hold=True)
    await update_participant(harness.runtime, call.conference_name, caller.sid, hold=False)
    await sim.deliver()
    events = [d.event for d in await deliveries(harness) if d.endpoint == "conference"]
    assert events[-2:] == ["participant-hold", "participant-unhold"]
    await remove_participant(harness.runtime, call.conference_name, "listener")
    await sim.deliver()
    left = [p for n, p in published if n == "participant.left"]
    assert left == [{"call_id": call.id, "call_sid": call.listener_call_sid, "label": "listener", "role": "listener"}]
    assert (await presence_of(harness, sam.id)).status == "wrap-up"
    assert (await calls(harness))[0].queue_state == "connected" and caller.state == "connected"
