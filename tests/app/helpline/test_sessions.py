"""Support sessions run against real calls (webhooks driven by the simulator) and a fake clock."""

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from app.core.db import session_scope
from app.core.events import LiveEvent
from app.core.jobs import run_due_jobs
from app.helpline.models import SupportSession
from tests.scenarios import take_call
from tests.telephony.conftest import listener, presence_of, sim  # noqa: F401 - the simulator fixture


async def _answered_call(harness, sim, client):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=30)
    await take_call(client)
    await sim.deliver()
    return caller


async def _session(harness):
    async with session_scope(harness.runtime) as session:
        return await session.scalar(sa.select(SupportSession))


async def _live(harness, type_):
    async with session_scope(harness.runtime) as session:
        return (await session.scalars(sa.select(LiveEvent).where(LiveEvent.type == type_).order_by(LiveEvent.id))).all()


async def test_answering_starts_a_timed_session_the_page_can_redraw(harness, sim):
    sam, client = await listener(harness)
    await _answered_call(harness, sim, client)
    support = await _session(harness)
    assert support.listener_id == sam.id
    assert support.due_at - support.started_at == timedelta(minutes=30)
    assert support.due_at - support.warning_at == timedelta(minutes=5)
    current = (await client.get("/api/listener/sessions/current")).json()
    assert current["due_at"] == support.due_at.isoformat() and not current["overrunning"]
    assert [e.audience for e in await _live(harness, "session.started")] == [f"user:{sam.id}"]


async def test_warning_and_due_fire_once_each_at_their_times_and_overrun_is_recorded(harness, sim):
    sam, client = await listener(harness)
    caller = await _answered_call(harness, sim, client)
    harness.clock.advance(minutes=24, seconds=59)
    await run_due_jobs(harness.runtime)
    assert await _live(harness, "session.warning") == []
    harness.clock.advance(seconds=1)
    await run_due_jobs(harness.runtime)
    await run_due_jobs(harness.runtime)
    assert len(await _live(harness, "session.warning")) == 1
    harness.clock.advance(minutes=5)
    await run_due_jobs(harness.runtime)
    due = await _live(harness, "session.due")
    assert sorted(e.audience for e in due) == ["role:supervisor", f"user:{sam.id}"]
    assert (await client.get("/api/listener/sessions/current")).json()["overrunning"]
    harness.clock.advance(minutes=7)  # the timer never hangs up: the caller is still on the line
    assert caller.state == "connected"
    await caller.hang_up()
    await sim.deliver()
    support = await _session(harness)
    assert support.ended_at is not None and support.overrun_seconds == 7 * 60
    assert support.warned_at is not None and support.due_fired_at is not None


async def test_a_restarted_job_loop_still_fires_the_warning(harness, make_harness, sim):
    _, client = await listener(harness)
    await _answered_call(harness, sim, client)
    restarted = await make_harness()  # a new process on the same database
    harness.clock.advance(minutes=26)
    await run_due_jobs(restarted.runtime)
    assert len(await _live(harness, "session.warning")) == 1


async def test_two_job_loops_never_fire_one_warning_twice(harness, make_harness, sim):
    _, client = await listener(harness)
    await _answered_call(harness, sim, client)
    other = await make_harness()
    harness.clock.advance(minutes=31)
    await asyncio.gather(run_due_jobs(harness.runtime), run_due_jobs(other.runtime))
    assert len(await _live(harness, "session.warning")) == 1
    assert len([e for e in await _live(harness, "session.due") if e.audience == "role:supervisor"]) == 1


async def test_ending_the_call_ends_the_session_then_wrap_up_returns_to_available(harness, sim):
    sam, client = await listener(harness)
    caller = await _answered_call(harness, sim, client)
    harness.clock.advance(minutes=12)
    await caller.hang_up()
    await sim.deliver()
    support = await _session(harness)
    assert support.overrun_seconds == 0 and (await presence_of(harness, sam.id)).status == "wrap-up"
    harness.clock.advance(minutes=4)
    await run_due_jobs(harness.runtime)
    assert await _live(harness, "session.warning") == []  # its jobs went with the call
    assert (await presence_of(harness, sam.id)).status == "available"
    assert (await client.get("/api/listener/sessions/current")).json() is None
    own = [e.data["status"] for e in await _live(harness, "presence") if e.audience == f"user:{sam.id}"]
    assert own[-2:] == ["wrap-up", "available"]  # the listener's page hears it, not only supervisors


async def test_a_break_chosen_in_wrap_up_is_kept(harness, sim):
    sam, client = await listener(harness)
    caller = await _answered_call(harness, sim, client)
    await caller.hang_up()
    await sim.deliver()
    assert (await client.put("/api/listener/presence", json={"status": "break"})).status_code == 200
    harness.clock.advance(minutes=5)
    await run_due_jobs(harness.runtime)
    assert (await presence_of(harness, sam.id)).status == "break"
