"""The REST client other packages use to change a live call (e.g. a warm transfer), against the
strict twin: participants are held and removed by the conference SID (Twilio refuses the
FriendlyName), found by name when no conference callback has brought it yet; holds and removals
come back as conference events and domain events."""

import pytest
import sqlalchemy as sa

from app.core.db import session_scope
from telephony.models import Call
from telephony.participants import hold_in_conference, remove_from_conference
from telephony.provider import ProviderRejected, update_participant
from tests.telephony.conftest import calls, deliveries, listener, presence_of


async def test_holding_and_removing_participants(harness, sim, published):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    sam, client = await listener(harness)
    await client.post("/api/listener/calls/next")
    await sim.deliver()
    [call] = await calls(harness)
    with pytest.raises(ProviderRejected) as refused:  # what a real account answers to the name
        await update_participant(harness.runtime, call.conference_name, caller.sid, hold=True)
    assert refused.value.status == 404
    await hold_in_conference(harness.runtime, call, caller.sid, hold=True)
    room = sim.conferences[call.conference_name]
    assert room.participants[caller.sid].hold and not sim.can_hear(call.listener_call_sid, caller.sid)
    await hold_in_conference(harness.runtime, call, caller.sid, hold=False)
    await sim.deliver()
    events = [d.event for d in await deliveries(harness) if d.endpoint == "conference"]
    assert events[-2:] == ["participant-hold", "participant-unhold"]
    held = next(r for r in sim.rest_requests if r["form"].get("Hold") == "true" and room.sid in r["path"])
    assert held["form"]["HoldUrl"] == "https://openline.example.org/telephony/voice/wait"  # the line's music
    await remove_from_conference(harness.runtime, call, "listener")
    await sim.deliver()
    left = [p for n, p in published if n == "participant.left"]
    assert left == [{"call_id": call.id, "call_sid": call.listener_call_sid, "label": "listener", "role": "listener"}]
    assert (await presence_of(harness, sam.id)).status == "wrap-up"
    assert (await calls(harness))[0].queue_state == "connected" and caller.state == "connected"


async def test_the_conference_sid_is_found_by_name_before_any_callback_brings_it(harness, sim):
    caller = sim.caller()
    await caller.arrive()
    sim.outbox.clear()  # no conference callback has arrived yet
    [call] = await calls(harness)
    assert call.conference_sid is None
    await hold_in_conference(harness.runtime, call, caller.sid, hold=True)
    room = sim.conferences[call.conference_name]
    assert room.participants[caller.sid].hold
    async with session_scope(harness.runtime) as session:
        assert await session.scalar(sa.select(Call.conference_sid).where(Call.id == call.id)) == room.sid  # kept
