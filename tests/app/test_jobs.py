"""The job loop's failure path: a failing job is retried with backoff, then marked dead; its
half-done work is rolled back."""

import sqlalchemy as sa

from app.core.db import session_scope
from app.core.jobs import DEAD, PENDING, Job, RetryLater, run_due_jobs, schedule_job
from app.core.security import User


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
