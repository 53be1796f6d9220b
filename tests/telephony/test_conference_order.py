"""Conference callbacks arrive late, twice and out of order: they are applied in Twilio's
SequenceNumber order, a gap waits a moment for what is missing, and a waiting caller's hang-up
is known from the conference events alone."""

from app.core.jobs import run_due_jobs
from telephony.conference import GAP_SECONDS
from telephony.lifecycle import CALLER_ALONE_GRACE_SECONDS
from tests.scenarios import listener_leg, take_call
from tests.telephony.conftest import calls, listener, presence_of, sim  # noqa: F401 - the simulator fixture

CONFERENCE = "/telephony/conference/events"


def conference_events(sim):
    return [item for item in sim.outbox if item.url.endswith(CONFERENCE)]


def hold_back_joins(sim):
    """Take the participant-join events out of the outbox, to be delivered later."""
    joins = [e for e in conference_events(sim) if e.params["StatusCallbackEvent"] == "participant-join"]
    sim.outbox = [item for item in sim.outbox if item not in joins]
    return joins


async def test_a_listener_leave_delivered_before_their_join_is_applied_after_it(harness, sim):
    user, client = await listener(harness)
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    await take_call(client)
    # Twilio answers the REST dial; the listener joins and, a moment later, their line drops. The
    # callbacks for both are on their way, and the leave overtakes the join.
    sim.end_call(listener_leg(sim, caller), "completed")
    events = conference_events(sim)
    leave = next(item for item in events if item.params["StatusCallbackEvent"] == "participant-leave")
    sim.outbox.remove(leave)
    sim.outbox.insert(0, leave)
    await sim.deliver()

    [call] = await calls(harness)
    assert call.answered_at is not None and call.queue_state == "connected"
    assert (await presence_of(harness, user.id)).status == "wrap-up"  # not "on a call" for ever
    harness.clock.advance(seconds=CALLER_ALONE_GRACE_SECONDS)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    assert caller.state == "recording"  # alone on the line: offered a message, not left in silence


async def test_shuffled_repeated_and_late_conference_events_end_where_ordered_ones_do(harness, sim):
    user, client = await listener(harness)
    for mode in ({}, {"shuffle": True, "duplicate": True}, {"chaos": True}):
        caller = sim.caller()
        await caller.arrive()
        await sim.deliver(**mode)
        await take_call(client)
        await sim.deliver(**mode)
        harness.clock.advance(minutes=5)
        await caller.hang_up()
        await sim.deliver(**mode)
        harness.clock.advance(seconds=GAP_SECONDS)
        await run_due_jobs(harness.runtime)
        assert (await client.put("/api/listener/presence", json={"status": "available"})).status_code == 200
    ordered, *disordered = await calls(harness)
    for call in (ordered, *disordered):
        assert (call.queue_state, call.abandoned, call.listener_id) == ("ended", False, user.id)
        assert call.answered_at is not None and call.ended_at is not None
        assert call.conference_sequence == ordered.conference_sequence


async def test_an_event_whose_predecessor_never_comes_is_applied_after_a_short_wait(harness, sim):
    user, client = await listener(harness)
    caller = sim.caller()
    await caller.arrive()
    sim.outbox = [item for item in sim.outbox if not item.url.endswith(CONFERENCE)]  # the caller's join is lost
    await sim.deliver()
    await take_call(client)
    await sim.deliver()
    [call] = await calls(harness)
    assert call.answered_at is None  # the listener's join waits for the event before it
    harness.clock.advance(seconds=GAP_SECONDS)
    await run_due_jobs(harness.runtime)
    [call] = await calls(harness)
    assert call.queue_state == "connected" and (await presence_of(harness, user.id)).status == "on-call"


async def test_a_waiting_callers_hang_up_is_known_from_the_conference_alone(harness, sim):
    _, client = await listener(harness)
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=40)
    await caller.hang_up()
    sim.outbox = conference_events(sim)  # the caller's own status callback is lost
    await sim.deliver()
    [call] = await calls(harness)
    assert (call.queue_state, call.abandoned, call.wait_seconds) == ("ended", True, 40)
    response = await client.post("/api/listener/calls/next")
    assert response.status_code == 404 and response.json()["error"] == "nobody_waiting"  # no ghost to take


async def test_a_listener_s_join_later_than_the_short_wait_still_answers_the_call(harness, sim):
    """Past the wait, later events are applied; a join arriving after them is not backwards (the
    leg was never seen), so it still answers the call rather than leaving a talking caller
    'waiting', to be sent to voicemail mid-conversation."""
    user, client = await listener(harness)
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    await take_call(client)
    joins = [
        item
        for item in conference_events(sim)
        if item.params["StatusCallbackEvent"] == "participant-join"
        and item.params.get("CallSid") == listener_leg(sim, caller).sid
    ]
    assert len(joins) == 1
    sim.outbox.remove(joins[0])
    await sim.deliver()  # conference-start and the rest, the join held back in the network
    harness.clock.advance(seconds=GAP_SECONDS)
    await run_due_jobs(harness.runtime)  # the wait is over: what came after the join is applied
    [call] = await calls(harness)
    assert call.answered_at is None
    sim.outbox.append(joins[0])
    await sim.deliver()
    [call] = await calls(harness)
    assert call.queue_state == "connected" and call.answered_at is not None
    assert (await presence_of(harness, user.id)).status == "on-call"


async def test_a_call_reads_answered_once_the_caller_is_in_their_room_and_never_goes_back(harness, sim):
    """Twilio sends a number's status callback only the end: the caller's own join is how the
    call is known to be answered, and a join that arrives after the end changes nothing."""
    caller = sim.caller()
    await caller.arrive()
    joins = hold_back_joins(sim)
    await sim.deliver()  # the incoming call only
    assert [c.status for c in await calls(harness)] == ["ringing"]
    sim.outbox = joins
    await sim.deliver()
    assert [c.status for c in await calls(harness)] == ["in-progress"]

    late = sim.caller()
    await late.arrive()
    joins = hold_back_joins(sim)
    await sim.deliver()
    await late.hang_up()
    await sim.deliver()  # its completed status callback (and its room's end) overtake its join
    sim.outbox = joins
    await sim.deliver()
    statuses = {c.call_sid: c.status for c in await calls(harness)}
    assert statuses[late.sid] == "completed"
