"""Calling out after a commit, never inside a transaction.

A request to another system (Twilio's REST API above all) must neither be forgotten nor hold a
transaction open: on SQLite a transaction holds the one writer lock, and every webhook with it,
for the whole round trip. So, as the partner notifications do:

1. **Decide and store** (in the caller's transaction): ``call_out_after_commit`` writes a job.
2. The job (right after that commit, or the job loop after a crash) ``prepare``s the request
   (still wanted? what exactly to send, read fresh; anything secret stays in memory, never in the
   stored job), stores a **safety net** (the same request again, a little later) and commits.
   A transaction that has itself just read all ``prepare`` would (``call_out_decided``) does
   steps 1 and 2 at once: it stores the safety net, and the call follows its own commit.
3. **Call** after that commit, with no transaction open.
4. **Record** the result in a new transaction: ``done`` on success, ``refused`` on a permanent
   failure; either way the safety net is cancelled. A temporary failure (``RetryLater``) leaves it
   to run, with a growing delay, until ``give_up_after``; then ``refused`` is told.

A crash between the call and the record sends the request again: ``prepare`` is where each use
makes that harmless (e.g. "the listener's line is not already ringing"). Any stored job of a
registered kind is a call-out, however it was scheduled.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of, session_scope
from app.core.events import DomainEvent, emit
from app.core.jobs import Job, RetryLater, cancel_job, exponential_backoff, queue_job_now, schedule_job

if TYPE_CHECKING:
    from app.core.runtime import Runtime

log = logging.getLogger("openline.outbox")

SEND_EVENT = "outbox.send"
EXTRAS_KEY = "outbox"
ATTEMPT, FIRST = "_attempt", "_first"

Payload = dict[str, Any]


@dataclass(frozen=True)
class CallOut:
    """One kind of outgoing request. ``send`` runs with no transaction open and raises
    ``RetryLater`` for a failure worth retrying; ``prepare`` (None: no longer wanted), ``done``
    and ``refused`` run in transactions of their own."""

    send: Callable[["Runtime", Payload], Awaitable[Any]]
    prepare: Callable[[AsyncSession, Payload], Awaitable[Payload | None]] | None = None
    done: Callable[[AsyncSession, Payload, Any], Awaitable[None]] | None = None
    refused: Callable[[AsyncSession, Payload, Exception], Awaitable[None]] | None = None
    retry_base_seconds: float = 5.0
    give_up_after: timedelta = timedelta(hours=1)


def register_call_out(runtime: "Runtime", kind: str, call_out: CallOut) -> None:
    runtime.extras.setdefault(EXTRAS_KEY, {})[kind] = call_out
    runtime.jobs.register(kind, _decide)
    if _send not in runtime.bus.handlers.get(SEND_EVENT, []):
        runtime.bus.subscribe(SEND_EVENT, _send)


def call_out_after_commit(session: AsyncSession, kind: str, **payload: Any) -> None:
    """Step 1, in the caller's transaction: the request is stored, to be made once it commits."""
    first = runtime_of(session).clock.now().isoformat()
    queue_job_now(session, kind=kind, payload=payload | {ATTEMPT: 0, FIRST: first})


async def call_out_decided(session: AsyncSession, kind: str, request: Payload, **payload: Any) -> None:
    """Steps 1 and 2 at once, for a transaction that has just read all that ``prepare`` would (and
    so knows the request is wanted): the safety net is stored with it and ``request`` (``payload``
    and what is to be sent) is made once it commits, without a job run in between to read it all
    again. A crash before the call leaves the safety net, which runs as any call-out would."""
    runtime = runtime_of(session)
    first = runtime.clock.now().isoformat()
    stored = payload | {ATTEMPT: 0, FIRST: first}
    safety_net = await _store_safety_net(session, kind, stored)
    emit(session, SEND_EVENT, kind=kind, payload=stored | request, safety_net=safety_net)


async def _store_safety_net(session: AsyncSession, kind: str, stored: Payload) -> str:
    """The same request again, a little later (growing with each attempt), stored with this
    transaction; the call made after it commits cancels it."""
    runtime = runtime_of(session)
    attempt = stored[ATTEMPT] + 1
    safety_net = f"{kind}:{uuid.uuid4().hex}"
    delay = exponential_backoff(attempt, base=_call_out(runtime, kind).retry_base_seconds, cap=300)
    await schedule_job(
        session,
        kind=kind,
        key=safety_net,
        run_at=runtime.clock.now() + timedelta(seconds=delay),
        payload=stored | {ATTEMPT: attempt},
    )
    return safety_net


def _call_out(runtime: "Runtime", kind: str) -> CallOut:
    return runtime.extras[EXTRAS_KEY][kind]


async def _decide(session: AsyncSession, job: Job) -> None:
    """Step 2: still wanted? Then store the safety net and send after this commits."""
    runtime = runtime_of(session)
    call_out = _call_out(runtime, job.kind)
    now = runtime.clock.now()
    stored = {ATTEMPT: 0, FIRST: job.created_at.isoformat()} | dict(job.payload)
    request = stored if call_out.prepare is None else await call_out.prepare(session, dict(stored))
    if request is None:
        return
    if now - datetime.fromisoformat(stored[FIRST]) >= call_out.give_up_after:
        log.error("outgoing request given up", extra={"kind": job.kind})
        if call_out.refused is not None:
            await call_out.refused(session, request, TimeoutError("given up"))
        return
    safety_net = await _store_safety_net(session, job.kind, stored)
    emit(session, SEND_EVENT, kind=job.kind, payload=request, safety_net=safety_net)


async def _send(runtime: "Runtime", event: DomainEvent) -> None:
    """Steps 3 and 4: call with no transaction open, then record what happened."""
    kind, payload, safety_net = event.payload["kind"], event.payload["payload"], event.payload["safety_net"]
    call_out = _call_out(runtime, kind)
    try:
        result = await call_out.send(runtime, payload)
    except RetryLater as exc:
        log.warning("outgoing request failed; retrying", extra={"kind": kind, "error": str(exc)})
        return  # the safety net runs it again
    except Exception as exc:  # noqa: BLE001 - a refusal is recorded, never lost
        log.warning("outgoing request refused", extra={"kind": kind, "error": str(exc)})
        async with session_scope(runtime) as session:
            await cancel_job(session, safety_net)
            if call_out.refused is not None:
                await call_out.refused(session, payload, exc)
        return
    async with session_scope(runtime) as session:
        await cancel_job(session, safety_net)
        if call_out.done is not None:
            await call_out.done(session, payload, result)
