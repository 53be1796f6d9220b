"""``make bench``: a national line's day (20,000 calls) against one server.

The server runs as ``openline serve`` does (one uvicorn process, or on PostgreSQL ``--workers N``;
signature checks on, the job loop on) on a fresh migrated database. Twilio is the project's
strict twin (``telephony.simulator``), run in this process: its REST API is served on a second
port and the server's REST client points at it (``OPENLINE_TWILIO_API_BASE``), and its calls and
conferences make the webhooks, with the fields, ``SequenceNumber``s and signatures Twilio sends.
Nothing here invents a webhook's shape.

Each call is one of two stories, as Twilio reports them:

* answered: the incoming call; the caller's status callback (``completed`` only: Twilio sends a
  number's status callback no other);
  the caller's ``participant-join`` and one hold-music (wait URL) request; a listener takes the
  caller through the app's own API (``POST /api/listener/calls/next``), the app rings them
  through the twin's REST API, and their leg's status callbacks (initiated, ringing, answered,
  completed), ``participant-join`` and ``conference-start`` follow; once the support session is
  shown on the listener's card the caller hangs up (their ``participant-leave``, the listener's,
  ``conference-end``), and the listener writes the call log, which frees them for the next;
* abandoned (``--abandon`` of the callers, 20% by default): the caller hangs up while waiting,
  after hearing the hold music, unless a listener got to them first.

Every webhook is released only when what causes it has happened (the incoming call answered,
the listener rung, the caller hung up); released webhooks wait in one pool and ``--connections``
senders each take a random one, so callbacks arrive out of order across calls and within a call
(a ``participant-leave`` before its ``participant-join``; the server holds conference events
until the gap is filled). ``--duplicates`` of the deliveries (20%) are sent a second time, as
Twilio's retries are, with the same idempotency token, at a random later moment, possibly while
the first is still in flight; half the calls' deliveries carry ``I-Twilio-Idempotency-Token``,
the other half are deduplicated on CallSid + event + SequenceNumber. A duplicate's answer must
be the same as the first.

``--storm`` replays the day as a retry storm after an outage would bring it: every webhook as
fast as the server takes it, none lagged, each taken from the pool at random (shuffled across
calls and within a call, as far as Twilio's own causality allows: nothing about a call comes
before its incoming webhook is answered), each retry put back at a random place; up to
``--in-flight`` (500) callers on the line, no listeners, every caller hanging up after the hold
music.

Just before the day the bare endpoint (``bench/server.py``) is measured on the same server at the
same connections, and the report says how long the day's deliveries would take at its rate.

Afterwards the database is asked whether every call ended with exactly one completed row (one
``calls`` row per CallSid, ``completed``, ``ended``, answered or abandoned as it happened, no row
that was not a call), one support session and one log per answered call, and every distinct
delivery stored once. Bounded: ``--calls`` (20,000), at most ``--in-flight`` callers on the line
at once, ``--max-seconds`` for the whole day; only 127.0.0.1.

    python bench/national_day.py --calls 500
    python bench/national_day.py --storm
    python bench/national_day.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.webhooks import (  # noqa: E402 - after the path is set
    ACCOUNT_SID,
    TOKEN,
    autovacuum_stand_in,
    call_fields,
    count_rows,
    create_postgres_database,
    drive,
    drop_postgres_database,
    free_port,
    server_cpu_seconds,
    signed,
    start_server,
    upgrade_database_in_thread,
    wait_until_ready,
)
from telephony.simulator import LINE_NUMBER, Outgoing, Sent, SimCall, Simulator  # noqa: E402
from telephony.simulator.twilio_world import CALLER_STATUS_EVENTS  # noqa: E402

CALLER_ID = "+441632960000"  # the line's own number, as bench/webhooks.py configures the server
PASSWORD = secrets.token_urlsafe(16)
CALL_LOG = {
    "contact_type": "support",
    "needs": [],
    "risk_level": "low",
    "consent_to_share": False,
    "title": "Support call",
    "summary": "",
    "outcome": "supported",
}
# How long a listener waits for one thing to happen (their caller's card, the line to free up)
# before counting it as something that did not happen.
LISTENER_PATIENCE_SECONDS = 30.0
UNSEEN_ROOM = "unseen room"
BARE_REQUESTS = 3000  # the bare endpoint's rate, measured before the day in the same run
QUIET_SECONDS = 1.0  # nothing sent or owed for this long: the day's webhooks are all delivered


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


@dataclass
class Caller:
    index: int
    call: SimCall
    abandons: bool
    with_token: bool
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    answered: bool = False  # a listener saw their session and they then hung up
    abandoned: bool = False  # they hung up while nobody was with them

    def bump(self) -> None:
        """Something about this call was delivered: wake whoever waits on it."""
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait_change(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    api_latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    api_errors: Counter = field(default_factory=Counter)
    duplicates: int = 0
    reply_mismatches: int = 0
    mismatch_examples: list[str] = field(default_factory=list)
    distinct: Counter = field(default_factory=Counter)  # first copies sent, by endpoint
    logs: int = 0
    claims_ended_first: int = 0  # claimed callers who hung up before the listener was with them
    never_answered: list[str] = field(default_factory=list)  # a listener joined; the app never knew
    unseen_rooms: list[str] = field(default_factory=list)  # conferences made by the listener's leg

    @property
    def deliveries(self) -> int:
        return sum(len(v) for v in self.latencies.values())


def endpoint_of(url: str) -> str:
    path = urlsplit(url).path
    return {
        "/telephony/voice/incoming": "incoming",
        "/telephony/voice/status": "status",
        "/telephony/conference/events": "conference",
        "/telephony/voice/wait": "wait",
        "/telephony/voice/fallback": "fallback",
    }.get(path, path)


class Day:
    """The day's callers, the twin that reports them, the pool of released webhooks and the listeners."""

    def __init__(self, sim: Simulator, base: str, args: argparse.Namespace):
        self.sim, self.base, self.args = sim, base, args
        self.rng = random.Random(args.seed)
        self.pool: list[tuple[float, int, Outgoing, bool]] = []  # a heap, by when each is due
        self.bag: list[tuple[Outgoing, bool]] = []  # the storm's pool: taken from at random
        self.order = 0
        self.callers: dict[str, Caller] = {}
        self.twice: set[str] = set()  # tokens of the deliveries sent a second time
        self.first_reply: dict[str, str] = {}  # their first answer, until the second comes
        self.stats = Stats()
        self.in_flight = 0
        self.flying: dict[tuple[int, bool], tuple[float, str, str]] = {}
        self.active = 0  # callers on the line
        self.arrived_all = False
        self.room = asyncio.Event()  # a caller has left the line: another may ring
        self.arrival = asyncio.Event()  # a caller has started to wait
        self.last_activity = time.perf_counter()

    # The callers

    async def ring_all(self) -> None:
        for index in range(self.args.calls):
            while self.active >= self.args.in_flight:
                self.room.clear()
                await self.room.wait()
            self.ring(index)
        self.arrived_all = True

    def ring(self, index: int) -> None:
        """A caller rings the line: Twilio requests the voice URL; the callbacks it owes follow
        the answer (so none can overtake the call it is about)."""
        sim = self.sim
        call = SimCall(
            "CA" + secrets.token_hex(16),
            f"+447700{index:06d}",
            LINE_NUMBER,
            "inbound",
            status="ringing",
            status_events=CALLER_STATUS_EVENTS,
            created=sim.now(),
        )
        sim.calls[call.sid] = call
        self.callers[call.sid] = Caller(
            index, call, abandons=self.rng.random() < self.args.abandon, with_token=index % 2 == 0
        )
        self.active += 1
        sim.enqueue(Outgoing(sim.voice_url, sim.call_params(call, CallStatus="ringing"), call.sid, follow="voice"))

    def hang_up(self, caller: Caller, *, abandoned: bool) -> None:
        if caller.call.ended:
            return
        caller.abandoned, caller.answered = abandoned, not abandoned
        self.sim.end_call(caller.call, "completed")
        self._left_line(caller)

    def _left_line(self, caller: Caller) -> None:
        self.active -= 1
        self.room.set()

    # Delivering

    def _refill(self) -> None:
        """Move what the twin owes into the pool, each callback due after a random delay of up to
        ``--jitter`` (so they overtake one another) and some of them sent again within
        ``--retry-window`` (a retry). Requests a caller waits on (the voice and wait URLs) go at once."""
        if not self.sim.outbox:
            return
        fresh, self.sim.outbox = self.sim.outbox, []
        self.sim._wake.clear()
        now, args = time.perf_counter(), self.args
        if args.storm:
            for item in fresh:
                self.bag.append((item, False))
                if self.rng.random() < args.duplicates:
                    self.bag.append((item, True))
                    self.twice.add(item.token)
            return
        for item in fresh:
            delay = 0.0 if item.follow else self.rng.uniform(0, args.jitter)
            self._push(now + delay, item, False)
            if self.rng.random() < args.duplicates:
                self._push(now + delay + self.rng.uniform(0, args.retry_window), item, True)
                self.twice.add(item.token)

    def _push(self, due: float, item: Outgoing, copy: bool) -> None:
        self.order += 1
        heapq.heappush(self.pool, (due, self.order, item, copy))

    def _take(self) -> tuple[Outgoing, bool] | float | None:
        """The delivery due first, if it is due; else how long until one is (None: nothing owed)."""
        self._refill()
        if self.args.storm:
            if not self.bag:
                return None
            # Any of what is owed, at random: swap it to the end and take it from there.
            index = self.rng.randrange(len(self.bag))
            self.bag[index], self.bag[-1] = self.bag[-1], self.bag[index]
            return self.bag.pop()
        if not self.pool:
            return None
        wait = self.pool[0][0] - time.perf_counter()
        if wait > 0:
            return wait
        _, _, item, copy = heapq.heappop(self.pool)
        return item, copy

    def day_over(self) -> bool:
        return self.arrived_all and self.active == 0

    async def deliver(self, http: aiohttp.ClientSession) -> None:
        while True:
            taken = self._take()
            if not isinstance(taken, tuple):
                quiet = time.perf_counter() - self.last_activity > QUIET_SECONDS
                if taken is None and self.day_over() and not self.in_flight and quiet:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.sim._wake.wait(), min(taken or 0.1, 0.1))
                continue
            await self.send(http, *taken)

    def _caller_of(self, item: Outgoing) -> Caller | None:
        name = item.params.get("FriendlyName", "")
        return self.callers.get(name.removeprefix("call-")) or self.callers.get(item.params.get("CallSid", ""))

    async def send(self, http: aiohttp.ClientSession, item: Outgoing, copy: bool) -> None:
        caller = self._caller_of(item)
        headers = {
            "X-Twilio-Signature": self.sim.sign(item.url, item.params),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        if caller is None or caller.with_token:
            headers["I-Twilio-Idempotency-Token"] = item.token
        endpoint = endpoint_of(item.url)
        self.in_flight += 1
        started = time.perf_counter()
        self.flying[id(item), copy] = (started, endpoint, item.params.get("StatusCallbackEvent", ""))
        try:
            async with http.post(item.url, data=urlencode(item.params), headers=headers) as response:
                status, body = response.status, await response.text()
        except aiohttp.ClientError as exc:
            status, body = 0, f"{type(exc).__name__}: {exc}"
        finally:
            self.in_flight -= 1
            del self.flying[id(item), copy]
            self.last_activity = time.perf_counter()
        self.stats.latencies[endpoint].append((time.perf_counter() - started) * 1000)
        self.stats.duplicates += copy
        if not 200 <= status < 300:
            self.stats.errors[f"{endpoint} {status}"] += 1
        key = item.token
        if endpoint == "wait" and caller is not None and not caller.with_token:
            # Without a token a repeated hold-music request is a new one (it has no
            # SequenceNumber): it is answered afresh, with the position as it is now.
            self.first_reply.pop(key, None)
        if key in self.first_reply:
            # The second of a pair to be answered: a retry must get the first one's answer.
            first = self.first_reply.pop(key)
            if first != body:
                self.stats.reply_mismatches += 1
                self.stats.mismatch_examples.append(f"{endpoint}: {first[:160]!r} then {body[:160]!r}")
            self.twice.discard(key)
        else:
            if key in self.twice:
                self.first_reply[key] = body
            self.stats.distinct[endpoint] += 1
            if item.follow and item.call_sid in self.callers:
                self._follow(self.callers[item.call_sid], item, Sent(item.url, item.params, status, body))
        if caller is not None:
            caller.bump()

    def _follow(self, caller: Caller, item: Outgoing, sent: Sent) -> None:
        """Play the answer to the caller, as Twilio would."""
        sim, call = self.sim, caller.call
        if item.follow == "voice":
            if 200 <= sent.status < 300:
                call.status_callback = sim.status_url
                # The twin's call moves on; nothing is sent until it ends (the number asks for
                # no events).
                sim.queue_status(call, "ringing")
                sim.queue_status(call, "in-progress")
            was_ended = call.ended
            sim.follow(call, sent, kind="voice")
            if call.ended and not was_ended:
                self._left_line(caller)  # an application error: the caller heard it and is gone
            else:
                self.arrival.set()  # a caller waits: wake the listeners told nobody was
                self.arrival = asyncio.Event()
            return
        sim.follow(call, sent, kind=item.follow or "voice")
        room = sim.conferences.get(call.conference or "")
        if item.follow == "wait" and caller.abandons and room is not None and not room.started:
            self.hang_up(caller, abandoned=True)

    # The listeners

    async def listen(self, username: str) -> None:
        jar = aiohttp.CookieJar(unsafe=True)  # the server is 127.0.0.1: cookies for an IP address
        async with aiohttp.ClientSession(base_url=self.base, cookie_jar=jar) as http:
            await sign_in(http, username)
            await self.api(http, "presence", "PUT", "/api/listener/presence", json={"status": "available"})
            previous: Caller | None = None
            while not self.day_over():
                status, taken = await self.api(http, "take next caller", "POST", "/api/listener/calls/next")
                if status == 404:
                    # Nobody waiting: a listener's dashboard is told when someone rings (here, the
                    # arrival event), so they do not ask again and again meanwhile.
                    await wait_event(self.arrival, 1.0)
                    continue
                if status == 409 and previous is not None:
                    await previous.wait_change(0.2)  # their last caller's end is still on its way
                    continue
                if status != 200:
                    await asyncio.sleep(0.1)
                    continue
                caller = self.callers[taken["conference_name"].removeprefix("call-")]
                previous = caller
                card = await self.card_for(http, caller, taken["id"])
                if card == UNSEEN_ROOM:
                    self.stats.unseen_rooms.append(caller.call.sid)
                    self.hang_up(caller, abandoned=False)
                    caller.answered = False
                    continue
                if card is None and caller.call.ended:
                    self.stats.claims_ended_first += 1
                    continue
                if card is None:
                    # Their listener is on the line (Twilio says so) but the app never showed the
                    # call as answered: the caller gives up; the check reports the call.
                    self.stats.never_answered.append(caller.call.sid)
                    self.hang_up(caller, abandoned=False)
                    caller.answered = False
                    continue
                self.hang_up(caller, abandoned=False)
                status, _ = await self.api(
                    http, "call log", "POST", f"/api/listener/sessions/{card['id']}/log", json=CALL_LOG
                )
                self.stats.logs += status == 201

    async def card_for(self, http: aiohttp.ClientSession, caller: Caller, call_id: int) -> dict | str | None:
        """The support session on the listener's card once their leg has joined the caller; None
        if the caller hangs up first (or it never comes); ``UNSEEN_ROOM`` if the listener's leg
        reached Twilio before the caller's ``<Dial><Conference>``: the REST request then made the
        conference, with no status callback (the app does not give one there), so no conference
        event of this call will ever come."""
        deadline = time.perf_counter() + LISTENER_PATIENCE_SECONDS
        while time.perf_counter() < deadline:
            _, card = await self.api(http, "call card", "GET", "/api/listener/sessions/current")
            if card and card.get("call_id") == call_id:
                return card
            if caller.call.ended:
                return None
            room = self.sim.conferences.get(f"call-{caller.call.sid}")
            if room is not None and room.status_callback is None and caller.call.sid in room.participants:
                return UNSEEN_ROOM
            await caller.wait_change(0.5)
        return None

    async def api(self, http: aiohttp.ClientSession, name: str, method: str, path: str, **kwargs) -> tuple[int, object]:
        started = time.perf_counter()
        async with http.request(method, path, **kwargs) as response:
            status = response.status
            body = await response.json() if response.content_type == "application/json" else None
        self.stats.api_latencies[name].append((time.perf_counter() - started) * 1000)
        if status >= 400 and not (name == "take next caller" and status in (404, 409)):
            self.stats.api_errors[f"{name} {status}"] += 1
        return status, body


async def wait_event(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


async def sign_in(http: aiohttp.ClientSession, username: str) -> None:
    async with http.get("/login") as page:
        match = re.search(r'name="csrf-token" content="([^"]+)"', await page.text())
    assert match, "no CSRF token on /login"
    form = {"username": username, "password": PASSWORD, "csrf_token": match.group(1)}
    async with http.post("/login", data=form, allow_redirects=False) as response:
        if response.status != 303:
            raise SystemExit(f"{username} could not sign in: {response.status}")
    async with http.get("/api/me") as me:
        http.headers["X-CSRF-Token"] = (await me.json())["csrf_token"]


async def add_listeners(database_url: str, count: int) -> list[str]:
    """The day's listeners, created as ``openline user add`` creates them."""
    from app.core.clock import Clock
    from app.core.db import session_scope
    from app.core.runtime import Runtime
    from app.core.security import create_user
    from app.core.settings import Settings

    settings = Settings(
        database_url=database_url,
        environment="test",
        secret_key=secrets.token_urlsafe(32),
        data_key=secrets.token_urlsafe(32),
        twilio_caller_id=CALLER_ID,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=TOKEN,
    )
    runtime = Runtime(settings=settings, clock=Clock())
    names = [f"listener{n:02d}" for n in range(count)]
    try:
        async with session_scope(runtime) as session:
            for name in names:
                await create_user(session, username=name, password=PASSWORD, role="listener", display_name=name)
    finally:
        await runtime.close()
    return names


async def bare_rate(base: str, connections: int, pid: int) -> float:
    """Requests/s of the bare endpoint (FastAPI parsing the form and answering constant TwiML, on
    the same server) at the day's connections: the floor any webhook's rate is to be judged by."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    sids = [f"CA{'b' * 8}{n:024x}" for n in range(BARE_REQUESTS)]
    requests = [signed(base, "/bench/bare", call_fields(sid, "ringing"), validator) for sid in sids]
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        base_url=base, connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as client:
        result = await drive(client, "bare", connections, requests, pid)
    return result.throughput


async def serve_twin(sim: Simulator, port: int) -> tuple[object, asyncio.Task]:
    import uvicorn

    config = uvicorn.Config(sim.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    return server, task


async def check_database(database_url: str, day: Day) -> list[str]:
    """What the database holds after the day; a list of what is wrong (empty: nothing)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    problems: list[str] = []
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT call_sid, status, queue_state, ended_at IS NOT NULL, abandoned, "
                        "answered_at IS NOT NULL FROM calls"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    by_sid = Counter(row[0] for row in rows)
    extra = [sid for sid in by_sid if sid not in day.callers]
    missing = [sid for sid in day.callers if sid not in by_sid]
    doubled = [sid for sid, n in by_sid.items() if n > 1]
    unfinished = [r[0] for r in rows if r[0] in day.callers and not (r[1] == "completed" and r[2] == "ended" and r[3])]
    wrong_story = [
        r[0]
        for r in rows
        if r[0] in day.callers
        and (
            (day.callers[r[0]].answered and (r[4] or not r[5]))
            or (day.callers[r[0]].abandoned and not r[4] and not r[5])
        )
    ]
    if unfinished:
        problems += await describe_calls(database_url, unfinished[:2])
    for name, found in (
        ("calls never stored", missing),
        ("calls stored twice", doubled),
        ("call rows that were not calls", extra),
        ("calls not ended as completed", unfinished),
        ("calls answered/abandoned other than they happened", wrong_story),
    ):
        if found:
            problems.append(f"{len(found)} {name} (e.g. {found[0]})")
    answered_in_db = sum(1 for r in rows if r[0] in day.callers and r[5])
    counts = await count_rows(
        database_url,
        {
            "sessions": "SELECT count(*) FROM support_sessions",
            "sessions_doubled": "SELECT count(*) FROM (SELECT call_id FROM support_sessions "
            "GROUP BY call_id HAVING count(*) > 1) AS d",
            "logs": "SELECT count(*) FROM call_logs",
            "deliveries": "SELECT count(*) FROM webhook_deliveries WHERE endpoint <> 'wait'",
        },
    )
    if counts["sessions"] != answered_in_db or counts["sessions_doubled"]:
        problems.append(f"{counts['sessions']} support sessions for {answered_in_db} answered calls")
    if counts["logs"] != day.stats.logs:
        problems.append(f"{counts['logs']} call logs stored, {day.stats.logs} written")
    sent = sum(n for endpoint, n in day.stats.distinct.items() if endpoint != "wait")
    if counts["deliveries"] != sent:
        problems.append(f"{counts['deliveries']} deliveries stored for {sent} distinct ones sent (wait URL aside)")
    print(
        f"database: {len(rows)} calls, {answered_in_db} answered; {counts['sessions']} support sessions, "
        f"{counts['logs']} call logs; {counts['deliveries']} deliveries stored (wait URL aside)"
    )
    jobs = await read_jobs(database_url)
    by_kind = Counter((kind, status) for kind, status, _, _ in jobs)
    print("jobs:", ", ".join(f"{n} {kind} {status}" for (kind, status), n in by_kind.most_common()))
    for line in describe_job_lateness(jobs):
        print(line)
    return problems


async def read_jobs(database_url: str) -> list[tuple[str, str, datetime, datetime | None]]:
    """What the server's job loop was given to do in the day (follow-on work, timers): each job's
    kind, status, time and when it ran."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.core.jobs import Job

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(Job.kind, Job.status, Job.run_at, Job.finished_at))).all()
    finally:
        await engine.dispose()
    return [tuple(row) for row in rows]


def describe_job_lateness(jobs: list[tuple[str, str, datetime, datetime | None]]) -> list[str]:
    """Pure: how long after its time each kind of job (kind, status, run_at, finished_at) ran, and
    how many were due by the last one run and had not run. A timer that runs late is a caller left
    waiting (a claim not handed back, a long wait not sent to voicemail)."""
    from app.core.jobs import DONE, PENDING

    ended = max((finished for _, _, _, finished in jobs if finished is not None), default=None)
    late: dict[str, list[float]] = defaultdict(list)
    overdue: Counter[str] = Counter()
    for kind, status, run_at, finished_at in jobs:
        if status == DONE and finished_at is not None:
            late[kind].append(max(0.0, (finished_at - run_at).total_seconds()))
        elif status == PENDING and ended is not None and run_at <= ended:
            overdue[kind] += 1
    lines = []
    for kind in sorted(set(late) | set(overdue)):
        ran = sorted(late[kind])
        timing = f"{len(ran)} ran, late by p50 {ran[len(ran) // 2]:.1f} s, max {ran[-1]:.1f} s" if ran else "none ran"
        lines.append(f"  {kind}: {timing}; {overdue[kind]} due by the last one run and not run")
    return ["jobs against their time:", *lines] if lines else []


async def describe_calls(database_url: str, sids: list[str]) -> list[str]:
    """What the database holds about a few calls that went wrong, to see why."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    lines = []
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            for sid in sids:
                call = (
                    await conn.execute(
                        text(
                            "SELECT id, status, queue_state, listener_id, answered_at, conference_sequence "
                            "FROM calls WHERE call_sid = :sid"
                        ),
                        {"sid": sid},
                    )
                ).one()
                lines.append(f"    call {sid}: {tuple(call)}")
                deliveries = await conn.execute(
                    text(
                        "SELECT endpoint, event, sequence, outcome, call_sid FROM webhook_deliveries "
                        "WHERE call_id = :id OR call_sid = :sid ORDER BY id"
                    ),
                    {"id": call[0], "sid": sid},
                )
                lines += [f"      {tuple(row)}" for row in deliveries]
    finally:
        await engine.dispose()
    return lines


def report(day: Day, seconds: float, finished: bool, cpu_seconds: float, client_cpu_seconds: float) -> None:
    stats = day.stats
    answered = sum(c.answered for c in day.callers.values())
    abandoned = sum(c.abandoned for c in day.callers.values())
    print(
        f"\n{len(day.callers)} calls ({answered} answered by a listener, {abandoned} abandoned in the queue) "
        f"in {seconds:.1f} s{'' if finished else ' (NOT finished: --max-seconds reached)'}: "
        f"{stats.deliveries} webhook deliveries ({stats.duplicates} duplicates), "
        f"{stats.deliveries / seconds:.0f} deliveries/s, {len(day.callers) / seconds:.1f} calls/s"
    )
    print(f"\n{'webhook':<11} {'sent':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for endpoint, values in sorted(day.stats.latencies.items()):
        print(f"{endpoint:<11} {len(values):>8} {percentile(values, 0.5):>8.1f} {percentile(values, 0.99):>8.1f}")
    print(f"\n{'listener API':<17} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in sorted(day.stats.api_latencies.items()):
        print(f"{name:<17} {len(values):>8} {percentile(values, 0.5):>8.1f} {percentile(values, 0.99):>8.1f}")
    if stats.claims_ended_first:
        print(f"claimed callers who hung up before their listener joined: {stats.claims_ended_first}")
    # A server busy all the time keeps every connection waiting: at --connections in flight, a
    # webhook's latency is then the connections over the rate (Little's law), whatever it costs.
    requests = stats.deliveries + sum(len(values) for values in stats.api_latencies.values())
    print(
        f"server CPU over the day: {cpu_seconds:.0f} s ({cpu_seconds / seconds:.0%} of one core), "
        f"{cpu_seconds * 1000 / max(len(day.callers), 1):.1f} ms a call, "
        f"{cpu_seconds * 1000 / max(requests, 1):.2f} ms a request (webhooks and the listeners' API; "
        "the jobs they start included); "
        f"{day.args.connections} connections over {stats.deliveries / seconds:.0f} deliveries/s: "
        f"{day.args.connections / max(stats.deliveries / seconds, 1e-9) * 1000:.0f} ms"
    )
    print(f"this process (the callers, the listeners and the twin) used {client_cpu_seconds:.0f} s of CPU")


async def run_day(database_url: str, database: str, args: argparse.Namespace) -> bool:
    port, twin_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    listeners = await add_listeners(database_url, args.listeners)
    sim = Simulator(
        account_sid=ACCOUNT_SID,
        auth_token=TOKEN,
        public_url=base,
        owned_numbers={LINE_NUMBER, CALLER_ID},
        seed=args.seed,
    )
    twin, twin_task = await serve_twin(sim, twin_port)
    findings: list[str] = []  # the call flow, beside the intake's own check
    with tempfile.TemporaryDirectory(prefix="openline-day-") as tmp:
        server = start_server(
            port,
            Path(tmp),
            database_url,
            args.workers,
            extra_env={
                "OPENLINE_TWILIO_API_BASE": f"http://127.0.0.1:{twin_port}",
                "OPENLINE_RUN_JOBS": "true" if args.jobs else "false",
            },
        )
        try:
            await wait_until_ready(base, Path(tmp))
            print(
                f"\n{database}{' (storm: every webhook as fast as it is taken, shuffled)' if args.storm else ''}: "
                f"one server ({args.workers} worker process{'es' if args.workers > 1 else ''}) on {base}, "
                f"the Twilio twin on :{twin_port}; "
                f"{args.calls} calls, {args.listeners} listeners, at most {args.in_flight} callers on the line, "
                f"{args.connections} connections, {args.duplicates:.0%} duplicates, {args.abandon:.0%} abandon"
            )
            bare = await bare_rate(base, args.connections, server.pid)
            day = Day(sim, base, args)
            connector = aiohttp.TCPConnector(limit=args.connections)
            started, cpu_before = time.perf_counter(), server_cpu_seconds(server.pid)
            client_before = time.process_time()
            async with (
                autovacuum_stand_in(database_url),
                aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http,
            ):
                work = asyncio.gather(
                    day.ring_all(),
                    *(day.deliver(http) for _ in range(args.connections)),
                    *(day.listen(name) for name in listeners),
                )
                try:
                    await asyncio.wait_for(work, args.max_seconds)
                    finished = True
                except TimeoutError:
                    finished = False
            seconds = time.perf_counter() - started
            report(
                day,
                seconds,
                finished,
                server_cpu_seconds(server.pid) - cpu_before,
                time.process_time() - client_before,
            )
            print(
                f"the bare endpoint, just before: {bare:,.0f} req/s at {args.connections} connections; the day's "
                f"{day.stats.deliveries:,} deliveries at that rate would take {day.stats.deliveries / bare:.0f} s; "
                f"the day ran at {day.stats.deliveries / seconds / bare:.0%} of it"
            )
            problems = [] if finished else ["the day did not finish in --max-seconds"]
            problems += [f"{n} x {what}" for what, n in day.stats.errors.items()]
            problems += [f"{n} x {what}" for what, n in day.stats.api_errors.items()]
            if day.stats.never_answered:
                findings.append(
                    f"{len(day.stats.never_answered)} calls whose listener joined (Twilio said so) but the app "
                    f"never showed them answered within {LISTENER_PATIENCE_SECONDS:.0f} s; the callers gave up"
                )
                findings += await describe_calls(database_url, day.stats.never_answered[:2])
            if day.stats.unseen_rooms:
                findings.append(
                    f"{len(day.stats.unseen_rooms)} calls whose listener's leg reached Twilio before the caller "
                    "had joined their conference (the greeting still playing): the REST request made the "
                    "conference without a status callback, so the app never heard the listener join; the callers "
                    "gave up"
                )
            if day.stats.reply_mismatches:
                problems.append(f"{day.stats.reply_mismatches} duplicates answered differently from the first")
                problems += [f"    {example}" for example in day.stats.mismatch_examples[:3]]
            if not finished:
                problems.append(
                    f"at the end: {len(day.pool) + len(day.bag)} deliveries in the pool, {len(sim.outbox)} owed, "
                    f"{day.in_flight} in flight: {sorted(day.flying.values())[:5]}"
                )
            for caller in [c for c in day.callers.values() if not c.call.ended][:3]:
                room = sim.conferences.get(caller.call.conference or "")
                problems.append(
                    f"caller {caller.call.sid} still on the line: {caller.call.status}, abandons={caller.abandons}, "
                    f"room {'started' if room and room.started else 'waiting' if room else 'none'}"
                )
            problems += await check_database(database_url, day)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
            twin.should_exit = True
            await twin_task
            await sim.close()
            if args.server_log:
                print((Path(tmp) / "server.log").read_text()[-args.server_log :])
    verdict = "every call ended with exactly one completed row; nothing lost, nothing doubled"
    print(f"\ncheck: {verdict if not problems else 'FAILED'}")
    for problem in problems:
        print(f"  - {problem}")
    if findings:
        print("found in the call flow (the intake stored them right; the calls still went wrong):")
        for finding in findings:
            print(f"  - {finding}")
    if database == "SQLite" and args.calls >= 20_000 and args.storm:
        print(f"target: the national day in under 120 s on SQLite: {'met' if seconds < 120 else 'NOT met'}")
    return not problems


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="run on a fresh database on this PostgreSQL server")
    parser.add_argument("--calls", type=int, default=20_000, help="calls in the day (default 20,000)")
    parser.add_argument(
        "--storm", action="store_true", help="every webhook as fast as the server takes it, shuffled; no listeners"
    )
    parser.add_argument("--listeners", type=int, help="listeners taking callers (default 12; 0 in a storm)")
    parser.add_argument(
        "--in-flight", type=int, help="callers on the line at once, at most (default 48; 500 in a storm)"
    )
    parser.add_argument("--connections", type=int, default=32, help="concurrent webhook connections")
    parser.add_argument("--duplicates", type=float, default=0.2, help="share of deliveries sent twice")
    parser.add_argument(
        "--jitter", type=float, default=0.5, help="seconds a callback may lag, so they overtake one another"
    )
    parser.add_argument("--retry-window", type=float, default=2.0, help="seconds after the first a retry comes")
    parser.add_argument(
        "--abandon", type=float, help="share of callers who hang up while waiting (default 20%%; all in a storm)"
    )
    parser.add_argument("--max-seconds", type=float, default=3600, help="stop the day after this long")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (PostgreSQL only above 1)")
    parser.add_argument("--server-log", type=int, default=0, metavar="CHARS", help="print the server log's tail")
    parser.add_argument("--jobs", action=argparse.BooleanOptionalAction, default=True, help="the server's job loop")
    args = parser.parse_args()
    if args.listeners is None:
        args.listeners = 0 if args.storm else 12
    if args.in_flight is None:
        args.in_flight = 500 if args.storm else 48
    if args.abandon is None:
        args.abandon = 1.0 if args.storm else 0.2
    if not 1 <= args.calls <= 100_000 or not 1 <= args.connections <= 256 or not 0 <= args.listeners <= 200:
        parser.error("--calls 1..100000, --connections 1..256, --listeners 0..200")
    if not args.listeners and args.abandon < 1:
        parser.error("without listeners every caller abandons: --abandon 1")
    if not 1 <= args.workers <= 4 or (args.workers > 1 and not args.postgres):
        parser.error("--workers 1..4, above 1 only with --postgres: SQLite is served by one process")
    if not 1 <= args.in_flight <= 20_000:
        parser.error("--in-flight 1..20000")
    pg_name = None
    with tempfile.TemporaryDirectory(prefix="openline-day-db-") as tmp:
        if args.postgres:
            database_url, pg_name = await create_postgres_database(args.postgres)
        else:
            database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'day.db'}"
        upgrade_database_in_thread(database_url)
        try:
            ok = await run_day(database_url, "PostgreSQL" if pg_name else "SQLite", args)
        finally:
            if pg_name:
                await drop_postgres_database(args.postgres, pg_name)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
