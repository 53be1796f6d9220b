"""The job loop: a failing job is retried with backoff, then marked dead, its half-done work
rolled back; due jobs run in turns, and what follows each runs once the turn has ended; an
event cancels the pending jobs it makes pointless."""

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from app.core.db import session_scope
from app.core.events import emit
from app.core.jobs import CANCELLED, DEAD, DONE, PENDING, Job, RetryLater, plan_job, run_due_jobs, schedule_job
from app.core.security import User
from telephony.webhook_session import webhook_writer


async def test_a_failing_job_is_retried_with_backoff_then_dead(harness):
    tries = []

    async def flaky(session, job):
        tries.append(harness.clock.now())
        session.add(
            User(
                username=f"rolled-back-{len(tries)}",
                display_name="x",
                password_hash="x",
                role="listener",
                created_at=harness.clock.now(),
            )
        )
        raise RetryLater("partner answered 500") if len(tries) == 1 else RuntimeError("boom")

    harness.runtime.jobs.register("test.flaky", flaky)
    async with session_scope(harness.runtime) as session:
        await schedule_job(session, kind="test.flaky", key="flaky-1", run_at=harness.clock.now())
    assert await run_due_jobs(harness.runtime) == 0
    async with session_scope(harness.runtime) as session:
        job = await session.scalar(sa.select(Job).where(Job.key == "flaky-1"))
        names = (await session.scalars(sa.select(User.username))).all()
    assert (job.status, job.attempts, "partner answered 500" in job.last_error) == (PENDING, 1, True)
    assert (job.run_at - tries[0]).total_seconds() == 30  # the first backoff
    assert not any(n.startswith("rolled-back") for n in names)
    harness.clock.advance(seconds=29)
    await run_due_jobs(harness.runtime)
    assert len(tries) == 1
    harness.clock.advance(seconds=1)
    await run_due_jobs(harness.runtime)
    assert len(tries) == 2
    harness.clock.advance(hours=25)
    await run_due_jobs(harness.runtime)
    async with session_scope(harness.runtime) as session:
        job = await session.scalar(sa.select(Job).where(Job.key == "flaky-1"))
    assert job.status == DEAD and len(tries) == 3 and "boom" in job.last_error
    harness.clock.advance(hours=5)
    await run_due_jobs(harness.runtime)
    assert len(tries) == 3


async def test_due_jobs_run_in_turns_and_what_follows_each_waits_for_nothing_they_hold(harness):
    """On SQLite the loop keeps the database for a turn of several due jobs, each its own
    transaction; the work after each commit (a call to Twilio, which may wait for a webhook to be
    written) runs only once the turn has let the database go."""
    written = []

    async def turn(session, job):
        emit(session, "test.turned", key=job.key)

    async def store_a_webhook(session, key):
        written.append(key)

    async def after(runtime, event):
        await webhook_writer(runtime).write(store_a_webhook, event.payload["key"])

    harness.runtime.jobs.register("test.turn", turn)
    harness.runtime.bus.subscribe("test.turned", after)
    async with session_scope(harness.runtime) as session:
        for n in range(5):
            await schedule_job(session, kind="test.turn", key=f"turn-{n}", run_at=harness.clock.now())
    assert await asyncio.wait_for(run_due_jobs(harness.runtime), 10) == 5
    assert sorted(written) == [f"turn-{n}" for n in range(5)]
    async with session_scope(harness.runtime) as session:
        statuses = (await session.scalars(sa.select(Job.status).where(Job.kind == "test.turn"))).all()
    assert statuses == [DONE] * 5


async def test_an_event_cancels_the_pending_jobs_it_makes_pointless_and_only_those(harness):
    """``cancel_on``: the jobs under the event's key prefix, pending ones only, even one written
    in the same transaction; a key that merely shares its first characters is left alone."""
    harness.runtime.jobs.register("test.timer", lambda session, job: asyncio.sleep(0))
    harness.runtime.jobs.cancel_on("test.gone", lambda payload: f"test.timer:{payload['id']}:")
    later = harness.clock.now() + timedelta(minutes=10)
    async with session_scope(harness.runtime) as session:
        for key in ("test.timer:1:a", "test.timer:1:b", "test.timer:12:a", "test.timer:2:a"):
            await schedule_job(session, kind="test.timer", key=key, run_at=later)
        await schedule_job(session, kind="test.timer", key="test.timer:1:done", run_at=harness.clock.now())
    await run_due_jobs(harness.runtime)
    async with session_scope(harness.runtime) as session:
        # Stored at commit, as an event's planned job is: the cancelling comes after it.
        plan_job(session, kind="test.timer", key="test.timer:2:c", run_at=later, payload={})
        emit(session, "test.gone", id=1)
        emit(session, "test.gone", id=2)
    async with session_scope(harness.runtime) as session:
        statuses = dict((await session.execute(sa.select(Job.key, Job.status).where(Job.kind == "test.timer"))).all())
    assert statuses == {
        "test.timer:1:a": CANCELLED,
        "test.timer:1:b": CANCELLED,
        "test.timer:1:done": DONE,
        "test.timer:12:a": PENDING,
        "test.timer:2:a": CANCELLED,
        "test.timer:2:c": CANCELLED,
    }
