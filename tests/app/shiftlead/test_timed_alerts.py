"""Alerts on time, not on the board's 20 s refresh: a stored job per wait and per session raises
the long-wait and overrun alerts the moment they are due (a live event the board redraws on),
once, and never for a caller already answered or a session already over."""

import sqlalchemy as sa

from app.core.db import session_scope
from app.core.events import LiveEvent
from app.core.jobs import Job, run_due_jobs
from tests.scenarios import answered, hang_up, take_call
from tests.telephony.conftest import listener, sim  # noqa: F401 - the simulator fixture


async def raised(harness):
    async with session_scope(harness.runtime) as session:
        events = (
            await session.scalars(sa.select(LiveEvent).where(LiveEvent.type == "alert").order_by(LiveEvent.id))
        ).all()
    return [(e.audience, e.data["key"], e.data["kind"]) for e in events]


async def advance(harness, seconds):
    harness.clock.advance(seconds=seconds)
    await run_due_jobs(harness.runtime)


async def test_the_longest_wait_alerts_the_moment_it_passes_its_target(harness, sim):
    target = harness.runtime.settings.wait_target_seconds
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    await advance(harness, target - 1)
    assert await raised(harness) == []
    await advance(harness, 1)
    [call_id] = [c["id"] for c in (await (await _board(harness)).get("/api/supervisor/board")).json()["waiting"]]
    assert await raised(harness) == [("role:supervisor", f"long-wait:{call_id}", "long-wait")]
    await advance(harness, target)  # later callers of the same wait, and the job itself, raise nothing new
    assert len(await raised(harness)) == 1

    # A second caller past the target while the first still waits longer: one alert, already raised.
    second = sim.caller("+447700900888")
    await second.arrive()
    await sim.deliver()
    await advance(harness, target)
    assert len(await raised(harness)) == 1


async def test_a_caller_answered_before_the_target_raises_nothing(harness, sim):
    target = harness.runtime.settings.wait_target_seconds
    _, client = await listener(harness)
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    await advance(harness, target - 5)
    await take_call(client)
    await sim.deliver()
    await advance(harness, 10)
    assert await raised(harness) == []


async def test_an_overrunning_session_alerts_when_it_is_the_set_minutes_over(harness, sim):
    settings = harness.runtime.settings
    _, client = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, client)
    await run_due_jobs(harness.runtime)
    await advance(harness, settings.session_minutes * 60 + settings.overrun_alert_minutes * 60 - 1)
    assert [k for _, k, kind in await raised(harness) if kind == "overrun"] == []
    await advance(harness, 1)
    assert [k for _, k, kind in await raised(harness) if kind == "overrun"] == [f"overrun:{card['id']}"]
    alert = next(a for a in (await (await _board(harness)).get("/api/supervisor/board")).json()["alerts"])
    assert alert["key"] == f"overrun:{card['id']}" and "Sam's session" in alert["text"]


async def test_a_session_ended_before_its_overrun_cancels_the_alert(harness, sim):
    settings = harness.runtime.settings
    _, client = await listener(harness)
    caller, card = await answered(harness, sim, client)
    await run_due_jobs(harness.runtime)
    await advance(harness, settings.session_minutes * 60)
    await hang_up(sim, caller)
    await run_due_jobs(harness.runtime)
    await advance(harness, settings.overrun_alert_minutes * 60 + 60)
    assert await raised(harness) == []
    async with session_scope(harness.runtime) as session:
        job = await session.scalar(sa.select(Job).where(Job.key == f"shiftlead.overrun_alert:{card['id']}"))
    assert job.status == "cancelled"


async def _board(harness):
    if not hasattr(harness, "_jo"):
        await harness.add_user("jo", "supervisor", display_name="Jo")
        harness._jo = await harness.signed_in("jo")
    return harness._jo
