"""The call card, repeat callers and tonight's calls, driven by real calls through the simulator."""

import sqlalchemy as sa

from app.core.db import session_scope
from tests.conftest import load_demo_directory
from tests.scenarios import GOOD, answered, hang_up
from tests.telephony.conftest import callbacks, listener, sim  # noqa: F401 - the simulator fixture
from transfers.directory.models import Service
from transfers.tickets.models import TransferTicket

NUMBER = "+447700900321"


async def test_the_call_card_masks_the_number_and_a_first_caller_has_no_history(harness, sim):
    _, client = await listener(harness)
    caller, card = await answered(harness, sim, client)
    assert card["caller"]["number"].endswith("321") and "900321" not in card["caller"]["number"]
    assert card["log_recorded"] is False
    repeat = (await client.get(f"/api/listener/sessions/{card['id']}/repeat-caller")).json()
    assert repeat == {"matched": False, "withheld": False, "earlier_contacts": 0, "contacts": [], "open_transfers": []}


async def test_a_repeat_caller_brings_their_earlier_contacts_and_open_warm_transfers(harness, sim):
    await load_demo_directory(harness)
    sam, sam_client = await listener(harness, "sam", display_name="Sam")
    _, alex_client = await listener(harness, "alex", display_name="Alex")
    caller, first = await answered(harness, sim, sam_client)
    assert (await sam_client.post(f"/api/listener/sessions/{first['id']}/log", json=GOOD)).status_code == 201
    await hang_up(sim, caller)
    async with session_scope(harness.runtime) as session:  # the warm transfer made on the first call
        service = await session.scalar(sa.select(Service).where(Service.slug == "ca-money"))
        now = harness.clock.now()
        session.add(
            TransferTicket(
                service_id=service.id,
                call_id=first["call_id"],
                created_by=sam.id,
                needs=["money"],
                risk_level="low",
                consent_covers="needs",
                consent_recorded_at=now,
                consent_recorded_by=sam.id,
                accept_by=now,
                contact_by=now,
                created_at=now,
                updated_at=now,
            )
        )
    other, _ = await answered(harness, sim, sam_client, "+447700900999")  # someone else rings in between
    await hang_up(sim, other)
    harness.clock.advance(hours=2)

    again, second = await answered(harness, sim, alex_client)
    repeat = (await alex_client.get(f"/api/listener/sessions/{second['id']}/repeat-caller")).json()
    assert repeat["matched"] and repeat["earlier_contacts"] == 1
    [contact] = repeat["contacts"]
    assert (contact["listener"], contact["title"], contact["outcome"]) == ("Sam", GOOD["title"], "warm-transfer")
    assert [(t["service"], t["status"]) for t in repeat["open_transfers"]] == [(service.name, "requested")]
    # Sam cannot read Alex's session's history: to Sam it does not exist.
    assert (await sam_client.get(f"/api/listener/sessions/{second['id']}/repeat-caller")).status_code == 404


async def test_withheld_numbers_never_match(harness, sim):
    _, client = await listener(harness)
    for _ in range(2):
        caller, card = await answered(harness, sim, client, "anonymous")
        await hang_up(sim, caller)
        harness.clock.advance(minutes=5)
        await client.put("/api/listener/presence", json={"status": "available"})
    repeat = (await client.get(f"/api/listener/sessions/{card['id']}/repeat-caller")).json()
    assert repeat["withheld"] and not repeat["matched"] and repeat["contacts"] == []
    assert card["caller"]["withheld"] is True


async def test_tonights_calls_are_the_listeners_own_newest_first(harness, sim):
    await load_demo_directory(harness)
    _, sam_client = await listener(harness, "sam")
    _, alex_client = await listener(harness, "alex")
    caller, first = await answered(harness, sim, sam_client)
    await sam_client.post(f"/api/listener/sessions/{first['id']}/log", json=GOOD | {"outcome": "supported"})
    harness.clock.advance(minutes=12)
    await hang_up(sim, caller)
    await sam_client.put("/api/listener/presence", json={"status": "available"})
    caller, second = await answered(harness, sim, sam_client, "+447700900555")
    alex_caller, _ = await answered(harness, sim, alex_client, "+447700900556")

    tonight = (await sam_client.get("/api/listener/tonight")).json()
    assert [c["session_id"] for c in tonight] == [second["id"], first["id"]]
    assert tonight[1]["title"] == GOOD["title"] and tonight[1]["minutes"] == 12 and tonight[1]["outcome"] == "supported"
    assert tonight[0]["log_recorded"] is False and tonight[0]["ended_at"] is None
    harness.clock.advance(hours=13)
    assert (await sam_client.get("/api/listener/tonight")).json() == []


async def test_a_callback_runs_its_own_session_ended_by_the_listener(harness, sim):
    sam, client = await listener(harness)
    caller = sim.caller(NUMBER)
    await caller.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=harness.runtime.settings.max_wait_seconds + 1)
    from app.core.jobs import run_due_jobs

    await run_due_jobs(harness.runtime)
    await sim.deliver()
    await caller.hang_up()
    await sim.deliver()
    [callback] = await callbacks(harness)
    assert (await client.post(f"/api/listener/callbacks/{callback.id}/session")).status_code == 409  # not claimed
    assert (await client.post(f"/api/listener/callbacks/{callback.id}/claim")).status_code == 200
    started = await client.post(f"/api/listener/callbacks/{callback.id}/session")
    assert started.status_code == 201, started.text
    card = (await client.get("/api/listener/sessions/current")).json()
    assert card["callback"] is True and card["id"] == started.json()["id"]
    assert (await client.get("/api/listener/presence")).json()["status"] == "on-call"
    harness.clock.advance(minutes=10)
    ended = await client.post(f"/api/listener/sessions/{card['id']}/end")
    assert ended.status_code == 200 and ended.json()["ended_at"]
    assert (await client.get("/api/listener/presence")).json()["status"] == "wrap-up"
    assert (await client.get("/api/listener/sessions/current")).json() is None
