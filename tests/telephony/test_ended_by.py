"""Who ended a call, decided where it ends from the conference and status events: the caller
hanging up, the listener's end button, a warm transfer, a dropped line, the voicemail prompt,
reconciliation. Late, repeated and out-of-order deliveries give the same answer."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core.events import LiveEvent
from app.core.jobs import run_due_jobs
from telephony.call_states import CallEnd, EndedBy, Leg, who_ended
from telephony.conference import GAP_SECONDS
from telephony.lifecycle import CALLER_ALONE_GRACE_SECONDS
from telephony.reconcile import reconcile_calls
from tests.scenarios import answered, listener_leg, overflowed_caller
from tests.telephony.conftest import calls, listener, rows, sim  # noqa: F401 - the simulator fixture

T = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
LATER = T + timedelta(minutes=5)
CALLER = Leg("caller", T, None)
TALKING = Leg("listener", T, None)
LISTENER_LEFT = Leg("listener", T, LATER)


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (CallEnd("connected", "completed", (CALLER, TALKING)), EndedBy.caller),
        (CallEnd("waiting", "completed", (CALLER,)), EndedBy.caller),
        (CallEnd("connected", "failed", (CALLER, TALKING)), EndedBy.dropped),
        (CallEnd("connected", "completed", (CALLER, TALKING), closed_by=EndedBy.listener), EndedBy.listener),
        (CallEnd("connected", "completed", (CALLER, TALKING), closed_by=EndedBy.system), EndedBy.system),
        (CallEnd("voicemail", "completed", (CALLER,)), EndedBy.voicemail),
        (CallEnd("voicemail", "completed", (CALLER,), before_voicemail=True), EndedBy.caller),
        # The listener's leg left the caller alone: their line dropped (the rescue then took a message).
        (CallEnd("voicemail", "completed", (CALLER, LISTENER_LEFT)), EndedBy.dropped),
        (CallEnd("connected", "completed", (CALLER, LISTENER_LEFT)), EndedBy.dropped),
        # The listener left a partner (or the crisis line) with the caller, whoever hung up after.
        (CallEnd("connected", "completed", (CALLER, LISTENER_LEFT, Leg("partner", T, None))), EndedBy.transfer),
        (CallEnd("voicemail", "completed", (CALLER, LISTENER_LEFT, Leg("partner", T, LATER))), EndedBy.transfer),
        # A partner who had gone before the listener left is no handover; one who never answered neither.
        (
            CallEnd("voicemail", "completed", (CALLER, LISTENER_LEFT, Leg("partner", T, T + timedelta(minutes=1)))),
            EndedBy.dropped,
        ),
        (CallEnd("connected", "completed", (CALLER, LISTENER_LEFT, Leg("partner", None, LATER))), EndedBy.dropped),
        (CallEnd("connected", "completed", (CALLER, LISTENER_LEFT, Leg("supervisor", T, None))), EndedBy.listener),
    ],
)
def test_who_ended_a_call(end, expected):
    assert who_ended(end) is expected


async def ended_by(harness):
    return [call.ended_by for call in await calls(harness)]


@pytest.mark.parametrize("mode", [{}, {"shuffle": True, "duplicate": True}, {"chaos": True}])
async def test_the_caller_hanging_up_in_any_delivery_order(harness, sim, mode):
    _, client = await listener(harness)
    caller, _ = await answered(harness, sim, client)
    harness.clock.advance(minutes=5)
    await caller.hang_up()
    await sim.deliver(**mode)
    harness.clock.advance(seconds=GAP_SECONDS)
    await run_due_jobs(harness.runtime)
    await sim.deliver(**mode)
    assert await ended_by(harness) == ["caller"]


@pytest.mark.parametrize("mode", [{}, {"chaos": True}])
async def test_the_listener_ending_the_call_from_their_page(harness, sim, mode):
    _, client = await listener(harness)
    await answered(harness, sim, client)
    assert (await client.post("/api/listener/calls/current/end")).status_code == 200
    await sim.deliver(**mode)
    harness.clock.advance(seconds=GAP_SECONDS)
    await run_due_jobs(harness.runtime)
    assert await ended_by(harness) == ["listener"]


async def test_the_listener_ending_after_twilios_own_report_of_the_hang_up(harness, sim):
    """The caller's ``completed`` (caused by our hang-up) can reach us before the end button's own
    close: it is still the listener who ended it."""
    _, client = await listener(harness)
    caller, _ = await answered(harness, sim, client)
    from telephony.reconcile import close_finished_call

    await caller.hang_up()  # stands for the hang-up the end button asked for
    await sim.deliver()
    assert await ended_by(harness) == ["caller"]
    [call] = await calls(harness)
    assert await close_finished_call(harness.runtime, call.id, "completed", closed_by=EndedBy.listener) == 0
    assert await ended_by(harness) == ["listener"]


async def test_a_dropped_listener_line(harness, sim):
    _, client = await listener(harness)
    caller, _ = await answered(harness, sim, client)
    sim.end_call(listener_leg(sim, caller), "completed")
    await sim.deliver(chaos=True)
    harness.clock.advance(seconds=max(CALLER_ALONE_GRACE_SECONDS, GAP_SECONDS))
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    await caller.leave_message(seconds=10)
    await sim.deliver(duplicate=True)
    assert await ended_by(harness) == ["dropped"]


async def test_a_message_at_the_voicemail_prompt(harness, sim):
    caller = await overflowed_caller(harness, sim)
    await caller.leave_message(seconds=20)
    await sim.deliver(duplicate=True)
    assert await ended_by(harness) == ["voicemail"]


async def test_a_call_closed_by_reconciliation(harness, sim):
    _, client = await listener(harness)
    caller, _ = await answered(harness, sim, client)
    await caller.hang_up()
    sim.outbox.clear()  # every callback lost
    assert await reconcile_calls(harness.runtime) == 1
    assert await ended_by(harness) == ["system"]


async def test_a_live_warm_transfer_then_the_caller_hangs_up(harness, sim):
    from tests.scenarios import on_the_line

    _, client, caller, card, safe_space = await on_the_line(harness, sim)
    ticket = (
        await client.post(
            f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
        )
    ).json()
    await sim.deliver()
    assert (await client.post(f"/api/helpline/tickets/{ticket['ticket_id']}/handover")).status_code == 200
    await sim.deliver(shuffle=True, duplicate=True)
    harness.clock.advance(minutes=10)
    await caller.hang_up()
    await sim.deliver(chaos=True)
    harness.clock.advance(seconds=GAP_SECONDS)
    await run_due_jobs(harness.runtime)
    assert await ended_by(harness) == ["transfer"]


async def test_the_tonight_list_the_call_card_and_the_board_say_who_ended_it(harness, sim):
    await harness.add_user("jo", "supervisor", display_name="Jo")
    user, client = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, client)
    harness.clock.advance(minutes=7)
    await caller.hang_up()
    await sim.deliver(chaos=True)
    harness.clock.advance(seconds=GAP_SECONDS)
    await run_due_jobs(harness.runtime)
    [call] = await calls(harness)

    [tonight] = (await client.get("/api/listener/tonight")).json()
    assert (tonight["session_id"], tonight["ended_by"]) == (card["id"], "caller")
    ended = [e.data for e in await rows(harness, LiveEvent, LiveEvent.type == "session.ended")]
    assert [(e["id"], e["ended_by"]) for e in ended] == [(card["id"], "caller")]  # what the open card redraws from
    board = (await (await harness.signed_in("jo")).get("/api/supervisor/board")).json()
    [sam] = [p for p in board["listeners"] if p["name"] == "Sam"]
    assert sam["call"] is None
    assert sam["last_call"] == {"id": call.id, "ended_at": call.ended_at.isoformat(), "ended_by": "caller"}


async def test_a_handed_over_session_says_so_while_the_call_goes_on(harness, sim):
    from tests.scenarios import on_the_line

    _, client, caller, card, safe_space = await on_the_line(harness, sim)
    ticket = (
        await client.post(
            f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
        )
    ).json()
    await sim.deliver()
    assert (await client.post(f"/api/helpline/tickets/{ticket['ticket_id']}/handover")).status_code == 200
    await sim.deliver()
    await run_due_jobs(harness.runtime)
    assert caller.state == "connected"  # with the partner now
    [tonight] = (await client.get("/api/listener/tonight")).json()
    assert tonight["ended_at"] is not None and tonight["ended_by"] == "transfer"
    assert await ended_by(harness) == [None]  # the call itself has not ended
