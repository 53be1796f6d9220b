"""Whole calls through the real webhooks, driven by the simulator: one Call row per call, the
right timestamps, and the same rows however often and in whatever order callbacks arrive."""

from datetime import timedelta

import pytest

from tests.scenarios import settled_live_events, take_call
from tests.telephony.conftest import calls, deliveries, listener, presence_of, simulator_for


async def run_whole_call(harness, sim, client, *, duplicate=False, shuffle=False, wait=90, talk=600):
    """Arrive, wait (position announced), be taken, talk, hang up; returns the caller."""
    caller = sim.caller()
    assert "<Conference" in await caller.arrive()
    await sim.deliver(duplicate=duplicate, shuffle=shuffle)
    assert caller.state == "waiting"
    assert any("You are caller number 1" in line for line in caller.heard)
    harness.clock.advance(seconds=wait)
    taken = await take_call(client)
    assert taken["queue_state"] == "claimed" and taken["waiting_seconds"] == wait
    await sim.deliver(duplicate=duplicate, shuffle=shuffle)
    assert caller.state == "connected"
    harness.clock.advance(seconds=talk)
    await caller.hang_up()
    await sim.deliver(duplicate=duplicate, shuffle=shuffle)
    assert caller.state == "ended"
    return caller


async def test_a_whole_call_arrives_waits_is_taken_and_ends(harness, sim, published):
    sam, client = await listener(harness)
    start = harness.clock.now()
    caller = await run_whole_call(harness, sim, client)
    [call] = await calls(harness)
    assert call.call_sid == caller.sid and call.status == "completed" and call.queue_state == "ended"
    assert call.waiting_since == start and call.claimed_at == start + timedelta(seconds=90)
    assert call.answered_at == start + timedelta(seconds=90) and call.wait_seconds == 90
    assert call.ended_at == start + timedelta(seconds=690) and not call.abandoned
    assert call.listener_id == sam.id and call.listener_call_sid and call.conference_sid.startswith("CF")
    assert all(sent.status == 200 for sent in sim.sent)
    # The REST dial: the listener's headset into the caller's conference.
    [dial] = sim.rest_requests
    assert dial["path"].endswith(f"/Conferences/call-{caller.sid}/Participants.json")
    assert dial["form"]["To"] == f"client:listener_{sam.id}" and dial["form"]["Label"] == "listener"
    assert dial["form"]["StartConferenceOnEnter"] == "true" and dial["form"]["EndConferenceOnExit"] == "false"
    presence = await presence_of(harness, sam.id)
    assert presence.status == "wrap-up" and presence.current_call_id is None
    names = [name for name, _ in published]
    assert names[:3] == ["call.waiting", "participant.joined", "call.claimed"]
    assert names.count("call.answered") == 1 and names.count("call.ended") == 1
    answered = next(p for n, p in published if n == "call.answered")
    assert answered == {"call_id": call.id, "listener_id": sam.id, "answered_at": call.answered_at.isoformat()}
    ended = next(p for n, p in published if n == "call.ended")
    assert ended == {
        "call_id": call.id,
        "listener_id": sam.id,
        "ended_at": call.ended_at.isoformat(),
        "abandoned": False,
        "ended_by": "caller",
        "was": "connected",
        "answered": True,
    }
    roles = sorted((n, p["role"]) for n, p in published if n.startswith("participant."))
    assert roles == [
        ("participant.joined", "caller"),
        ("participant.joined", "listener"),
        ("participant.left", "caller"),
        ("participant.left", "listener"),
    ]
    listener_join = next(p for n, p in published if n == "participant.joined" and p["role"] == "listener")
    assert listener_join["call_sid"] == call.listener_call_sid and listener_join["label"] == "listener"


COMPARED = (
    "direction",
    "status",
    "status_sequence",
    "from_masked",
    "from_withheld",
    "to_number",
    "queue_state",
    "wait_seconds",
    "abandoned",
    "listener_id",
)


def relative(call):
    moments = {
        name: getattr(call, name) - call.waiting_since
        for name in ("claimed_at", "answered_at", "ended_at", "created_at", "updated_at")
    }
    return (
        {name: getattr(call, name) for name in COMPARED}
        | moments
        | {"has_leg": call.listener_call_sid is not None, "has_conference": call.conference_sid is not None}
    )


@pytest.mark.parametrize("tokens", [True, False], ids=["idempotency-token", "natural-key"])
async def test_duplicated_and_shuffled_callbacks_give_the_same_rows(make_harness, tokens):
    harness = await make_harness()
    sam, client = await listener(harness)
    calm = simulator_for(harness, idempotency_tokens=tokens)
    await run_whole_call(harness, calm, client)
    await client.put("/api/listener/presence", json={"status": "available"})
    rough = simulator_for(harness, idempotency_tokens=tokens, seed=11)
    await run_whole_call(harness, rough, client, duplicate=True, shuffle=True)
    first, second = await calls(harness)
    assert relative(first) == relative(second)
    stored = await deliveries(harness)
    per_call = [sum(d.call_sid in (c.call_sid, c.listener_call_sid) for d in stored) for c in (first, second)]
    assert per_call[0] == per_call[1]
    assert len(rough.sent) == 2 * len(calm.sent) - 1  # all but the incoming request went twice
    assert all(sent.status == 200 for sent in rough.sent)
    await calm.close()
    await rough.close()


async def test_a_caller_who_hangs_up_while_waiting_is_abandoned(harness, sim, published):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=30)
    await caller.hang_up()
    await sim.deliver()
    [call] = await calls(harness)
    assert call.abandoned and call.queue_state == "ended" and call.wait_seconds == 30
    assert call.status == "completed" and call.answered_at is None
    assert call.ended_at == call.waiting_since + timedelta(seconds=30)
    ended = [p for n, p in published if n == "call.ended"]
    assert ended == [
        {
            "call_id": call.id,
            "listener_id": None,
            "ended_at": call.ended_at.isoformat(),
            "abandoned": True,
            "ended_by": "caller",
            "was": "waiting",
            "answered": False,
        }
    ]
    _, client = await listener(harness)
    response = await client.post("/api/listener/calls/next")
    assert response.status_code == 404 and response.json()["error"] == "nobody_waiting"


async def test_position_is_announced_now_and_then(harness, sim):
    first, second = sim.caller(), sim.caller()
    await first.arrive()
    harness.clock.advance(seconds=5)
    await second.arrive()
    await sim.deliver()
    assert "You are caller number 2" in " ".join(second.heard)
    harness.clock.advance(seconds=10)
    assert "caller number" not in await second.hear_hold_music()
    harness.clock.advance(seconds=harness.runtime.settings.position_announce_seconds)
    assert "You are caller number 2" in await second.hear_hold_music()
    await first.hang_up()
    await sim.deliver()
    harness.clock.advance(seconds=harness.runtime.settings.position_announce_seconds)
    assert "You are caller number 1" in await second.hear_hold_music()


async def test_the_live_queue_is_published_to_listeners_and_supervisors(harness, sim):
    await sim.caller().arrive()
    events = await settled_live_events(harness, ["role:listener", "role:supervisor"], at_least=2)
    queue = [(e.audience, e.data) for e in events if e.type == "queue"]
    snapshot = {"waiting": 1, "longest_waiting_since": harness.clock.now().isoformat()}
    assert queue == [("role:listener", snapshot), ("role:supervisor", snapshot)]


async def test_hold_music_loops_and_announces_the_new_place_as_callers_ahead_are_taken(harness, sim):
    """Twilio plays a wait document once: each ends by asking for the next, so the music never
    runs out, and the caller hears their new place once the caller ahead has been taken."""
    first, second = sim.caller(), sim.caller()
    await first.arrive()
    await second.arrive()
    await sim.deliver()
    assert "You are caller number 2" in " ".join(second.heard)
    for _ in range(3):  # three tracks later, still music and never silence
        harness.clock.advance(seconds=10)
        assert "<Play>" in await second.hear_hold_music()
    assert not any("caller number 1" in line for line in second.heard)
    _, client = await listener(harness)
    await take_call(client)  # the caller ahead is taken
    await sim.deliver()
    harness.clock.advance(seconds=10)
    assert "You are caller number 1" in await second.hear_hold_music()
    harness.clock.advance(seconds=10)
    assert "caller number" not in await second.hear_hold_music()  # said once, not every track
