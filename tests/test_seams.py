"""Nothing lost between two transactions. The process is killed at each seam: after the change
commits, before the work that must follow it (modelled by dropping everything the process would
have done next in memory). After the restart the job loop finishes it, exactly once. And no
Twilio request is ever made with a transaction open (on SQLite that would hold the one writer
lock, and every webhook with it, for the round trip)."""

from __future__ import annotations

from contextlib import contextmanager

import httpx
import sqlalchemy as sa

from app.core.db import session_scope
from app.core.jobs import run_due_jobs
from app.helpline.models import SupportSession
from telephony.dialing import DIAL_RETRY_SECONDS
from telephony.provider import use_transport
from tests.scenarios import on_the_line, take_call
from tests.telephony.conftest import calls, listener, sim  # noqa: F401 - the simulator fixture


@contextmanager
def crash_after_commit(harness):
    """Every commit in this block is durable; what the process would have done after it in
    memory (event handlers, follow-on jobs run at once) dies with it."""
    bus = harness.runtime.bus
    flush = bus.flush

    async def die(session):
        bus.discard(session)

    bus.flush = die
    try:
        yield
    finally:
        bus.flush = flush


def dials_to(sim, to):
    return [r for r in sim.rest_requests if r["path"].endswith("/Participants.json") and r["form"].get("To") == to]


async def test_the_claimed_listener_is_rung_after_a_crash_and_only_once(harness, sim):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    sam, client = await listener(harness)
    with crash_after_commit(harness):
        await take_call(client)
    assert dials_to(sim, f"client:listener_{sam.id}") == []  # the process died before ringing
    harness.clock.advance(seconds=DIAL_RETRY_SECONDS)  # the ring's safety net, stored with the claim, is due
    await run_due_jobs(harness.runtime)  # the restarted job loop
    await sim.deliver()
    await run_due_jobs(harness.runtime)
    assert len(dials_to(sim, f"client:listener_{sam.id}")) == 1
    [call] = await calls(harness)
    assert call.queue_state == "connected"


async def test_the_session_starts_after_a_crash_and_only_once(harness, sim):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    _, client = await listener(harness)
    await take_call(client)
    with crash_after_commit(harness):
        await sim.deliver()  # the listener joins: the answer commits, then the process dies
    [call] = await calls(harness)
    assert call.queue_state == "connected"
    async with session_scope(harness.runtime) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(SupportSession)) == 0
    await run_due_jobs(harness.runtime)
    await run_due_jobs(harness.runtime)
    async with session_scope(harness.runtime) as session:
        started = (await session.scalars(sa.select(SupportSession))).all()
    assert len(started) == 1 and started[0].started_at == call.answered_at


async def test_the_live_handover_is_confirmed_after_a_crash_and_only_once(harness, sim):
    _, client, caller, card, safe_space = await on_the_line(harness, sim)
    ticket = (
        await client.post(
            f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
        )
    ).json()
    await sim.deliver()
    assert (await client.post(f"/api/helpline/tickets/{ticket['ticket_id']}/handover")).status_code == 200
    with crash_after_commit(harness):
        await sim.deliver()  # the listener's leave commits; the process dies before confirming
    before = (await client.get(f"/api/helpline/tickets/{ticket['ticket_id']}")).json()
    assert before["status"] == "requested" and not before["handover_confirmed"]
    await run_due_jobs(harness.runtime)
    await run_due_jobs(harness.runtime)
    after = (await client.get(f"/api/helpline/tickets/{ticket['ticket_id']}")).json()
    assert after["status"] == "in-progress" and after["handover_confirmed"]
    assert [e["action"] for e in after["events"]] == ["create", "accept", "confirm_contact"]


class WatchedTransport(httpx.AsyncBaseTransport):
    """The simulator's REST API, noting for each request how many database connections the app
    had checked out (a connection out means a transaction open across the request)."""

    def __init__(self, harness, sim):
        self.inner = httpx.ASGITransport(app=sim.app)
        self.pool = harness.runtime.engine.sync_engine.pool
        self.seen: list[tuple[str, int]] = []

    async def handle_async_request(self, request):
        self.seen.append((f"{request.method} {request.url.path.rsplit('/', 2)[-2:]}", self.pool.checkedout()))
        return await self.inner.handle_async_request(request)


async def test_no_twilio_request_is_made_with_a_transaction_open(harness, sim):
    watched = WatchedTransport(harness, sim)
    use_transport(harness.runtime, watched)
    # A listener rung, a live warm transfer made and handed over, a partner's line dropping and
    # the caller rescued to voicemail; another caller overflowing to voicemail; a claim expiring.
    _, client, caller, card, safe_space = await on_the_line(harness, sim)
    ticket = (
        await client.post(
            f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
        )
    ).json()
    await sim.deliver()
    await client.post(f"/api/helpline/tickets/{ticket['ticket_id']}/handover")
    await sim.deliver()
    partner_leg = next(sid for sid, c in sim.calls.items() if (c.label or "").startswith("partner-"))
    sim.end_call(sim.calls[partner_leg], "completed")
    await sim.deliver()
    harness.clock.advance(seconds=10)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    assert caller.state == "recording"
    waiting = sim.caller()
    await waiting.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=harness.runtime.settings.max_wait_seconds)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    assert waiting.state == "recording"
    assert len(watched.seen) >= 6  # dial, hold, dial, unhold, remove, redirect, redirect...
    assert [seen for seen in watched.seen if seen[1]] == []  # never with a transaction open


async def test_a_claim_that_expires_hangs_up_the_ringing_leg_outside_its_transaction(harness, sim):
    watched = WatchedTransport(harness, sim)
    use_transport(harness.runtime, watched)
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    sam, client = await listener(harness)
    sim.slow_to_answer.add(f"client:listener_{sam.id}")
    await take_call(client)
    await sim.deliver()
    harness.clock.advance(seconds=61)
    await run_due_jobs(harness.runtime)
    leg = next(c for c in sim.calls.values() if c.to == f"client:listener_{sam.id}")
    assert leg.ended and [seen for seen in watched.seen if seen[1]] == []
