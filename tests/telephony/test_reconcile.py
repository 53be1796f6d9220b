"""After a restart (or any lost callback), calls the database holds as live are checked with
Twilio: ended ones are closed and their listeners freed; and a listener can always end their call."""

from telephony.reconcile import reconcile_calls
from tests.scenarios import answered
from tests.telephony.conftest import calls, listener, presence_of, sim  # noqa: F401 - the simulator fixture


async def test_calls_that_ended_while_openline_was_down_are_closed_and_listeners_freed(harness, sim):
    user, client = await listener(harness)
    talking, _ = await answered(harness, sim, client)
    ghost = sim.caller()
    await ghost.arrive()
    await sim.deliver()
    still_waiting = sim.caller()
    await still_waiting.arrive()
    await sim.deliver()
    # Openline restarts; meanwhile the first caller and the ghost hang up, and every callback is lost.
    await talking.hang_up()
    await ghost.hang_up()
    sim.outbox.clear()
    assert (await client.post("/api/listener/calls/next")).json()["error"] == "already_on_call"

    assert await reconcile_calls(harness.runtime) == 2
    by_sid = {call.call_sid: call for call in await calls(harness)}
    assert by_sid[talking.sid].queue_state == "ended" and not by_sid[talking.sid].abandoned
    assert by_sid[ghost.sid].queue_state == "ended" and by_sid[ghost.sid].abandoned
    assert by_sid[still_waiting.sid].queue_state == "waiting"  # Twilio still has them: untouched
    assert (await presence_of(harness, user.id)).status == "wrap-up"
    assert (await client.put("/api/listener/presence", json={"status": "available"})).status_code == 200
    taken = await client.post("/api/listener/calls/next")
    assert taken.status_code == 200 and taken.json()["id"] == by_sid[still_waiting.sid].id  # not the ghost
    assert await reconcile_calls(harness.runtime) == 0  # nothing left to close


async def test_a_listener_can_always_end_their_call(harness, sim):
    user, client = await listener(harness)
    caller, _ = await answered(harness, sim, client)
    ended = await client.post("/api/listener/calls/current/end")
    assert ended.status_code == 200, ended.text
    await sim.deliver()
    assert caller.state == "ended"  # Twilio was told to hang up
    [call] = await calls(harness)
    assert call.queue_state == "ended" and (await presence_of(harness, user.id)).status == "wrap-up"
    again = await client.post("/api/listener/calls/current/end")
    assert again.status_code == 404 and again.json()["error"] == "no_call"


async def test_ending_a_call_twilio_already_finished_still_frees_the_listener(harness, sim):
    user, client = await listener(harness)
    caller, _ = await answered(harness, sim, client)
    await caller.hang_up()
    sim.outbox.clear()  # the callbacks never came
    assert (await client.post("/api/listener/calls/current/end")).status_code == 200
    assert (await presence_of(harness, user.id)).status == "wrap-up"
    assert not [r for r in sim.rest_requests if r["method"] == "POST" and r["form"].get("Status") == "completed"]


async def test_ending_the_call_with_a_partner_on_the_line_leaves_the_caller_with_them(harness, sim):
    from tests.scenarios import conference_of, on_the_line

    _, client, caller, card, safe_space = await on_the_line(harness, sim)
    ticket = (
        await client.post(
            f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
        )
    ).json()
    await sim.deliver()
    room = conference_of(sim, caller)
    assert room.participants[caller.sid].hold  # the listener is briefing the partner
    left = await client.post("/api/listener/calls/current/end")
    assert left.status_code == 200 and left.json()["ended"] is False
    await sim.deliver()
    assert caller.state == "connected" and "listener" not in {p.label for p in room.participants.values()}
    assert not room.participants[caller.sid].hold and sim.can_hear(
        caller.sid, next(sid for sid, p in room.participants.items() if (p.label or "").startswith("partner-"))
    )
    done = (await client.get(f"/api/helpline/tickets/{ticket['ticket_id']}")).json()
    assert done["handover_confirmed"] is True  # the partner was on the line when the listener left
