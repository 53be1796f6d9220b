"""Stored background work: session warnings, SLA breaches, partner notifications, long waits.

A job is a row with a ``run_at``; a restart loses nothing. A loop claims due jobs one at a time
and runs the handler in the same transaction that marks the job done, so a job's effects and its
completion commit together: a crash before commit leaves it pending, and two loops never both run
it (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; both databases: a conditional claim update). A handler
only reads and writes the database: anything that calls out (Twilio, a partner's server) is
queued to run after the commit, so no job holds the database while another server answers.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.db import Base, dialect_name, insert_ignore, runtime_of

if TYPE_CHECKING:
    from app.core.runtime import Runtime

log = logging.getLogger("openline.jobs")

PENDING, DONE, DEAD, CANCELLED = "pending", "done", "dead", "cancelled"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_due", "status", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    run_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(sa.String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class RetryLater(Exception):
    """Raised by a handler that should run again later (e.g. a partner webhook answered 500)."""

    def __init__(self, reason: str, delay_seconds: float | None = None):
        super().__init__(reason)
        self.delay_seconds = delay_seconds


JobHandler = Callable[[AsyncSession, Job], Awaitable[None]]


def exponential_backoff(attempt: int, base: float = 30.0, cap: float = 3600.0) -> float:
    """30 s, 60 s, 2 min, 4 min … capped at an hour."""
    return min(cap, base * (2 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class JobKind:
    handler: JobHandler
    give_up_after: timedelta = timedelta(hours=24)
    max_attempts: int = 1000


@dataclass(frozen=True)
class Periodic:
    """Work run by every job loop at start-up and then every ``every`` (e.g. reconciling calls
    with Twilio). It opens its own transactions, so it may call out between them."""

    name: str
    every: timedelta
    task: Callable[["Runtime"], Awaitable[Any]]


class JobRegistry:
    def __init__(self) -> None:
        self.kinds: dict[str, JobKind] = {}
        self.periodic: list[Periodic] = []
        # Domain event name -> (job kind, which payloads it wants) that follow it (see ``follow``).
        self.followers: dict[str, list[tuple[str, Callable[[dict[str, Any]], bool] | None]]] = defaultdict(list)
        # Domain event name -> (job kind, plan) for jobs the event itself schedules (``schedule_on``).
        self.planners: dict[str, list[tuple[str, JobPlan]]] = defaultdict(list)
        # Domain event name -> the key prefixes of pending jobs it makes pointless (``cancel_on``).
        self.cancellers: dict[str, list[Callable[[dict[str, Any]], str | None]]] = defaultdict(list)

    def follow(
        self,
        event: str,
        kind: str,
        handler: JobHandler,
        *,
        when: Callable[[dict[str, Any]], bool] | None = None,
        give_up_after: timedelta = timedelta(hours=24),
        max_attempts: int = 1000,
    ) -> None:
        """Work that must follow ``event`` whatever happens: a stored job (``handler(session, job)``,
        the event's payload in ``job.payload``) written in the very transaction that emits the
        event, run right after it commits and, after a crash, by the job loop. Exactly once: the
        job's claim and its effects commit together. ``when`` picks the payloads worth a job (a
        row less on the webhook's path for every other one)."""
        self.register(kind, handler, give_up_after=give_up_after, max_attempts=max_attempts)
        self.followers[event].append((kind, when))

    def schedule_on(self, event: str, kind: str, handler: JobHandler, plan: "JobPlan") -> None:
        """A job that ``event`` schedules for later, written in the very transaction that emits it.
        Cheaper than ``follow`` when all the follow-up would do is schedule that job: no stored
        job to run after commit, no second transaction. ``plan(runtime, payload)`` is pure: the
        job's (key, run_at, payload), unique to this occurrence of the event, or None."""
        self.register(kind, handler)
        self.planners[event].append((kind, plan))

    def cancel_on(self, event: str, prefix: Callable[[dict[str, Any]], str | None]) -> None:
        """Pending jobs that ``event`` makes pointless (a caller's wait timers, once their call has
        ended): those whose key starts with ``prefix(payload)`` are cancelled in the very
        transaction that emits it, by one UPDATE at commit for all of a batch's webhooks. Left
        pending, each would run later to find nothing to do: in a 20,000-call storm the long-wait
        alerts of callers long gone crowded out the jobs that mattered."""
        self.cancellers[event].append(prefix)

    def every(self, name: str, every: timedelta, task: Callable[["Runtime"], Awaitable[Any]]) -> None:
        self.periodic.append(Periodic(name, every, task))

    def register(
        self,
        kind: str,
        handler: JobHandler,
        *,
        give_up_after: timedelta = timedelta(hours=24),
        max_attempts: int = 1000,
    ) -> None:
        self.kinds[kind] = JobKind(handler, give_up_after, max_attempts)


async def schedule_job(
    session: AsyncSession, *, kind: str, key: str, run_at: datetime, payload: dict[str, Any] | None = None
) -> bool:
    """Store a job once per ``key``; scheduling the same key again changes nothing."""
    now = runtime_of(session).clock.now()
    values = dict(kind=kind, key=key, run_at=run_at, payload=payload or {}, status=PENDING, attempts=0, created_at=now)
    return await insert_ignore(session, Job, values, ["key"])


def queue_job_now(session: AsyncSession, *, kind: str, payload: dict[str, Any]) -> str:
    """Store a job due now, and run it as soon as this transaction has committed (the job loop
    runs it instead if the process dies first). Synchronous, so ``emit`` can call it."""
    now = runtime_of(session).clock.now()
    key = f"{kind}:{uuid.uuid4().hex}"
    _store_at_commit(session, kind=kind, key=key, run_at=now, payload=payload, now=now)
    session.info.setdefault(RUN_AFTER_COMMIT, []).append(key)
    return key


RUN_AFTER_COMMIT = "jobs_after_commit"
JobPlan = Callable[["Runtime", dict[str, Any]], "tuple[str, datetime, dict[str, Any]] | None"]


def plan_job(session: AsyncSession, *, kind: str, key: str, run_at: datetime, payload: dict[str, Any]) -> None:
    """Store a job planned by an event (``JobRegistry.schedule_on``) with this transaction."""
    _store_at_commit(session, kind=kind, key=key, run_at=run_at, payload=payload, now=runtime_of(session).clock.now())


# Jobs written by ``emit`` (which is synchronous, so cannot execute a statement) are kept on the
# session and inserted together just before it commits: one INSERT for a batch of webhooks, where
# an ORM ``add`` each would be flushed one by one by the next statement of the batch.
JOBS_AT_COMMIT = "jobs_at_commit"
JOBS: sa.Table = Job.__table__  # type: ignore[assignment]
INSERT_JOBS = sa.insert(JOBS)


JOBS_CANCELLED_AT_COMMIT = "jobs_cancelled_at_commit"


def cancel_jobs_at_commit(session: AsyncSession, key_prefix: str) -> None:
    """Cancel, as this transaction commits, every pending job whose key starts with ``key_prefix``
    (``JobRegistry.cancel_on``). Synchronous, so ``emit`` can call it."""
    session.info.setdefault(JOBS_CANCELLED_AT_COMMIT, []).append(key_prefix)


# Built once, and executed with one set of parameters per prefix (one statement, many rows): each
# a range of the unique key index (``key >= p AND key < p'``, p' the prefix with its last
# character's successor). The status is compared through an expression so that no planner can
# take the (status, run_at) index instead, which SQLite did on a database without statistics,
# walking every pending job for each prefix: a 20,000-call storm then spent 1 ms more a webhook.
CANCEL_BY_PREFIX = (
    sa.update(JOBS)
    .where(
        JOBS.c.key >= sa.bindparam("low"),
        JOBS.c.key < sa.bindparam("high"),
        sa.func.coalesce(JOBS.c.status, "") == PENDING,
    )
    .values(status=CANCELLED)
)


def _prefix_ranges(prefixes: list[str]) -> list[dict[str, str]]:
    return [{"low": prefix, "high": prefix[:-1] + chr(ord(prefix[-1]) + 1)} for prefix in dict.fromkeys(prefixes)]


def _store_at_commit(
    session: AsyncSession, *, kind: str, key: str, run_at: datetime, payload: dict[str, Any], now: datetime
) -> None:
    row = dict(kind=kind, key=key, run_at=run_at, payload=payload, status=PENDING, attempts=0, created_at=now)
    session.info.setdefault(JOBS_AT_COMMIT, []).append(row)


@sa.event.listens_for(Session, "before_commit")
def _insert_jobs_at_commit(session: Session) -> None:
    # Runs inside AsyncSession.commit's greenlet, where the synchronous API may execute.
    if rows := session.info.pop(JOBS_AT_COMMIT, None):
        session.execute(INSERT_JOBS, rows)
    # After the insert: a job planned and made pointless in the same batch is cancelled too.
    if prefixes := session.info.pop(JOBS_CANCELLED_AT_COMMIT, None):
        session.execute(CANCEL_BY_PREFIX, _prefix_ranges(prefixes))


@sa.event.listens_for(Session, "after_rollback")
def _forget_jobs_at_commit(session: Session) -> None:
    session.info.pop(JOBS_AT_COMMIT, None)
    session.info.pop(JOBS_CANCELLED_AT_COMMIT, None)


async def run_job_now(runtime: "Runtime", key: str) -> bool | None:
    """Run one stored job by its key, if it is still pending (the after-commit fast path)."""
    outcome, session = await _run_one(runtime, key=key)
    if outcome:
        await runtime.bus.flush(session)
    return outcome


async def cancel_job(session: AsyncSession, key: str) -> None:
    await session.execute(sa.update(Job).where(Job.key == key, Job.status == PENDING).values(status=CANCELLED))


# On SQLite, how long the job loop keeps the write lock for one turn of due jobs, each in its own
# transaction. One job a turn, alternating with the webhook writer's batches, fell 10-20 s behind
# a 3,000-call storm's conference-gap jobs; a turn this long adds little to a webhook's wait.
JOB_TURN_SECONDS = 0.01


async def run_due_jobs(runtime: "Runtime", *, limit: int = 100) -> int:
    """Run every job due by the runtime clock's now (at most ``limit``); returns how many ran."""
    loop = asyncio.get_running_loop()
    turn = JOB_TURN_SECONDS if runtime.settings.is_sqlite else 0.0
    ran = passes = 0
    outcome: bool | None = False
    # Bounded by passes, not successes: a job that failed (and was rescheduled) is not counted
    # as run, yet must not keep this pass going for ever.
    while passes < limit and outcome is not None:
        committed: list[AsyncSession] = []
        async with runtime.write_lock():
            turn_ends = loop.time() + turn
            while passes < limit:
                passes += 1
                outcome, session = await _run_one(runtime)
                if outcome:
                    ran += 1
                    committed.append(session)
                if outcome is None or loop.time() >= turn_ends:
                    break
        # Their after-commit work (which may call out) once the lock is let go.
        for session in committed:
            await runtime.bus.flush(session)
    return ran


@cache
def _claim_next(dialect: str, *, keyed: bool) -> sa.Update:
    """One statement that finds the next due job (by its key, for the after-commit fast path) and
    marks it done, returning it: built once per database. Finding it with a SELECT first cost a
    second round trip for every job, each one waiting for the event loop behind a retry storm's
    webhooks (in a 1,500-call storm on SQLite: 36-43 ms for the SELECT, 20-24 ms for the claim)."""
    now = sa.bindparam("due_by", type_=JOBS.c.run_at.type)
    due = sa.select(Job.id).where(Job.status == PENDING, Job.run_at <= now)
    if keyed:
        due = due.where(Job.key == sa.bindparam("job_key"))
    due = due.order_by(Job.run_at, Job.id).limit(1)
    if dialect == "postgresql":
        # Another loop's job stays its own: skipped, not waited for.
        due = due.with_for_update(skip_locked=True)
    return (
        sa.update(Job)
        .where(Job.id == due.scalar_subquery(), Job.status == PENDING)
        .values(status=DONE, attempts=Job.attempts + 1, finished_at=now, last_error=None)
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


async def _run_one(runtime: "Runtime", *, key: str | None = None) -> tuple[bool | None, AsyncSession]:
    """Claim and run the next due job: None if there was none, False if it failed (recorded on
    it), True if it ran; with its session, whose events the caller flushes."""
    now = runtime.clock.now()
    # A short write (handlers only touch the database; what calls out runs after commit): on
    # SQLite it takes its turn with the webhook writer's batches and holds the database for its
    # own statements, run inline. Through aiosqlite's thread, each of a job's statements waited
    # for the event loop behind a storm's webhooks with SQLite's lock held: about 30 ms a job
    # in which no webhook could be written.
    failure: Exception | None = None
    async with runtime.short_write() as session:
        claim = _claim_next(dialect_name(session), keyed=key is not None)
        job = (
            await session.scalars(claim, {"due_by": now, "job_key": key} if key is not None else {"due_by": now})
        ).first()
        if job is None:
            return None, session
        kind = runtime.jobs.kinds.get(job.kind)
        job_id = job.id  # read now: after a rollback the row's attributes are expired
        try:
            if kind is None:
                raise RuntimeError(f"no handler registered for job kind {job.kind!r}")
            await kind.handler(session, job)
            await session.commit()
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            await session.rollback()
            runtime.bus.discard(session)
            failure = exc
    if failure is not None:
        # In a transaction of its own, once this one has ended.
        await _record_failure(runtime, job_id, failure, kind)
        return False, session
    return True, session


async def _record_failure(runtime: "Runtime", job_id: int, exc: Exception, kind: JobKind | None) -> None:
    now = runtime.clock.now()
    async with runtime.short_write() as session:
        job = await session.get(Job, job_id)
        if job is None:
            return
        job.attempts += 1
        job.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        too_old = kind is None or now - job.created_at >= kind.give_up_after or job.attempts >= kind.max_attempts
        if too_old:
            job.status = DEAD
            job.finished_at = now
            log.error("job dead", extra={"job_id": job.id, "kind": job.kind, "attempts": job.attempts})
        else:
            delay = exc.delay_seconds if isinstance(exc, RetryLater) and exc.delay_seconds else None
            job.run_at = now + timedelta(seconds=delay or exponential_backoff(job.attempts))
            if not isinstance(exc, RetryLater):
                log.warning("job failed, will retry", extra={"job_id": job.id, "kind": job.kind}, exc_info=exc)
        await session.commit()


class JobLoop:
    """Polls for due jobs inside the server process (or ``openline worker``)."""

    def __init__(self, runtime: "Runtime", poll_seconds: float):
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._periodic_due: dict[str, datetime] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="openline-job-loop")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self._run_periodic()
            try:
                ran = await run_due_jobs(self.runtime)
            except Exception:
                log.exception("job loop pass failed")
                ran = 0
            if ran == 0:
                try:
                    await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)
                except TimeoutError:
                    pass

    async def _run_periodic(self) -> None:
        now = self.runtime.clock.now()
        for periodic in self.runtime.jobs.periodic:
            if self._periodic_due.get(periodic.name, now) > now:
                continue
            self._periodic_due[periodic.name] = now + periodic.every
            try:
                await periodic.task(self.runtime)
            except Exception:
                log.exception("periodic work failed", extra={"name": periodic.name})

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
