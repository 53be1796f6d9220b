"""How long the capacity model takes to answer, on a small and a large recorded history.

Seeds a fresh SQLite database (or OPENLINE_BENCH_POSTGRES_URL) with Somerset's line: calls at
``--calls-per-week`` shaped like its week (peak 8-10pm), a session each for those answered,
listeners' presence changes around them, and a warm transfer for one call in six; then times
``describe_capacity`` over the last 4 weeks. Not part of ``make test``.

    python bench/capacity.py --weeks 4 --weeks 52
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from app.capacity.service import describe_capacity
from app.capacity.simulate import weekly_profile
from app.core.clock import FakeClock
from app.core.db import session_scope
from app.core.runtime import Runtime
from app.core.security import User
from app.core.settings import Settings
from app.db_admin import upgrade_database_async
from app.helpline.models import SupportSession
from telephony.models import Call, PresenceChange

LISTENERS = 12


async def _seed(runtime: Runtime, weeks: int, calls_per_week: float, rng: random.Random) -> int:
    now = runtime.clock.now()
    start = now - timedelta(weeks=weeks)
    rates = weekly_profile(calls_per_week)
    async with session_scope(runtime) as session:
        for n in range(LISTENERS):
            session.add(
                User(username=f"l{n}", display_name=f"L{n}", role="listener", password_hash="x", created_at=now)
            )
        await session.flush()
        ids = list(await session.scalars(sa.select(User.id)))
    calls, sessions, changes = [], [], []
    hour = start
    index = 0
    while hour < now:
        for _ in range(_poisson(rng, rates[(index + 24 * start.weekday() + start.hour) % 168])):
            at = hour + timedelta(seconds=rng.uniform(0, 3600))
            waited = int(rng.expovariate(1 / 20))
            gave_up = rng.random() < 0.03
            calls.append(
                dict(
                    call_sid=f"CA{len(calls):032d}",
                    direction="inbound",
                    status="completed",
                    queue_state="ended",
                    created_at=at,
                    updated_at=at,
                    waiting_since=at,
                    wait_seconds=waited,
                    abandoned=gave_up,
                    answered_at=None if gave_up else at + timedelta(seconds=waited),
                    from_masked="withheld",
                )
            )
            if not gave_up:
                listener = rng.choice(ids)
                begun = at + timedelta(seconds=waited)
                ended = begun + timedelta(seconds=rng.expovariate(1 / 1080))
                sessions.append(
                    dict(
                        listener_id=listener,
                        started_at=begun,
                        warning_at=begun,
                        due_at=begun,
                        ended_at=ended,
                        wrap_up_until=ended + timedelta(seconds=120),
                        overrun_seconds=0,
                    )
                )
                changes += [
                    dict(user_id=listener, status="on-call", at=begun),
                    dict(user_id=listener, status="available", at=ended + timedelta(seconds=120)),
                ]
        hour += timedelta(hours=1)
        index += 1
    async with session_scope(runtime) as session:
        for table, rows in ((Call, calls), (SupportSession, sessions), (PresenceChange, changes)):
            for chunk in range(0, len(rows), 5000):
                await session.execute(sa.insert(table), rows[chunk : chunk + 5000])
    return len(calls)


def _poisson(rng: random.Random, mean: float) -> int:
    count, clock = 0, rng.expovariate(1)
    while clock < mean:
        count += 1
        clock += rng.expovariate(1)
    return count


async def _time(url: str, weeks: int, calls_per_week: float) -> tuple[int, float, float]:
    await upgrade_database_async(url)
    settings = Settings(
        _env_file=None, environment="development", database_url=url, run_jobs=False, telephony="simulated"
    )
    runtime = Runtime(settings=settings, clock=FakeClock())
    try:
        calls = await _seed(runtime, weeks, calls_per_week, random.Random(1))
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            async with session_scope(runtime) as session:
                await describe_capacity(session)
            timings.append(time.perf_counter() - began)
        return calls, timings[0], min(timings)
    finally:
        await runtime.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, action="append", help="weeks of history to seed (repeatable)")
    parser.add_argument("--calls-per-week", type=float, default=650)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for weeks in args.weeks or [4, 52]:
            url = f"sqlite+aiosqlite:///{Path(folder) / f'capacity-{weeks}.db'}"
            calls, first, best = await _time(url, weeks, args.calls_per_week)
            print(
                f"{weeks:3d} weeks recorded, {calls:6d} calls: the model in {first * 1000:.0f} ms "
                f"(first, Erlang unremembered), {best * 1000:.0f} ms (best of 3)"
            )


if __name__ == "__main__":
    asyncio.run(main())
