"""How the board, the reports, the capacity model and the listener's and partner's endpoints
answer with a year of a national line behind them, against a small database of the same line.

Seeds two fresh databases with the same line (``--calls`` a year, shaped like the real week with
its 8-10pm peak; a session, a call log and a partner notification for each, a warm transfer for
about one call in ten, listeners' shifts as presence changes):

* ``small``  the last ``--small-days`` days of it (70: enough to fill every window the endpoints
             read, a month's report and the month before it included);
* ``large``  the whole year.

Rows go in by bulk core inserts, not through the API. Then each endpoint is asked, through the
real ASGI app (signed in, the same fixed clock), a warm-up and up to ``--repeats`` times within
``--seconds``; the median time is printed for each database with the ratio large/small. The
target is large <= 2x small: every query reads a bounded, indexed window, not the history.

    python bench/scale.py                      # SQLite, 200,000 calls
    python bench/scale.py --calls 20000        # a quick run
    python bench/scale.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

``--postgres URL`` creates two fresh databases on that server (and drops them after); they are
vacuumed and analysed after the load, as autovacuum would. SQLite is left as the app leaves it (no ANALYZE).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.capacity.demand import hour_of_week  # noqa: E402
from app.capacity.simulate import weekly_profile  # noqa: E402
from app.core.clock import FakeClock  # noqa: E402
from app.core.db import session_scope  # noqa: E402
from app.core.security import User, create_user  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.db_admin import upgrade_database_async  # noqa: E402
from app.helpline.models import CallLog, CallLogRevision, SupportSession  # noqa: E402
from app.main import create_app  # noqa: E402
from telephony.models import Call, ListenerPresence, PresenceChange  # noqa: E402
from transfers.directory.importer import import_directory, parse_directory  # noqa: E402
from transfers.directory.models import NeedCategory, Service  # noqa: E402
from transfers.tickets.models import PartnerNotification, TicketEvent, TransferTicket  # noqa: E402

# A Tuesday evening at the peak: the board's "tonight" and the staffing hour are the busiest.
NOW = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)
PUBLIC_URL = "http://openline.bench"
PASSWORD = "bench-password-0123"
LISTENERS = 60
CALLERS = 60_000
TARGET_RATIO = 2.0
DEMO_DIRECTORY = ROOT / "transfers" / "demo" / "somerset.yaml"
SEEDED = (
    Call,
    SupportSession,
    CallLog,
    CallLogRevision,
    TransferTicket,
    TicketEvent,
    PartnerNotification,
    PresenceChange,
)
RISKS = (("none", 50), ("low", 30), ("moderate", 14), ("high", 5), ("immediate", 1))
OUTCOMES = (("supported", 69), ("warm-transfer", 11), ("signposted", 15), ("caller-ended", 5))


def settings_for(url: str) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=url,
        public_url=PUBLIC_URL,
        telephony="twilio",
        twilio_account_sid="AC" + "b" * 32,
        twilio_auth_token=secrets.token_urlsafe(24),
        twilio_caller_id="+441632960000",
        twilio_api_base="http://127.0.0.1:9",
        secret_key=secrets.token_urlsafe(32),
        data_key=secrets.token_urlsafe(32),
        run_jobs=False,
    )


@dataclass
class Rows:
    """One chunk of the line's history, as rows for each seeded table."""

    tables: dict[Any, list[dict[str, Any]]] = field(default_factory=lambda: {m: [] for m in SEEDED})

    def add(self, model: Any, **row: Any) -> None:
        self.tables[model].append(row)


@dataclass
class Line:
    """What the seeding needs to know about the line: its people, services and needs."""

    listeners: list[int]
    services: list[tuple[int, int]]  # (service id, organisation id)
    needs: list[str]
    ids: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("call", "session", "log", "ticket"), 0))

    def next_id(self, kind: str) -> int:
        self.ids[kind] += 1
        return self.ids[kind]


def _poisson(rng: random.Random, rate: float) -> int:
    limit, n, product = math.exp(-rate), 0, rng.random()
    while product > limit:
        n += 1
        product *= rng.random()
    return n


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _caller(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.25:
        return {"from_withheld": True, "from_hash": None, "from_masked": "withheld"}
    # A few callers ring often, most once or twice: the repeat-caller figures have work to do.
    number = min(int(rng.paretovariate(1.2)), CALLERS)
    digest = hashlib.sha256(f"bench-caller-{number}".encode()).hexdigest()
    return {"from_withheld": False, "from_hash": digest, "from_masked": f"07••• •••{number % 1000:03d}"}


def _ticket(rows: Rows, line: Line, rng: random.Random, call_id: int, made: datetime, user: int) -> None:
    ticket_id = line.next_id("ticket")
    service, organisation = rng.choice(line.services)
    accepted = made + timedelta(hours=rng.expovariate(1 / 10))
    reached = accepted + timedelta(hours=rng.expovariate(1 / 50))
    times: dict[str, Any] = {"accepted_at": None, "handover_at": None, "completed_at": None, "status_reason": None}
    if accepted > NOW:
        status = "requested"
    elif reached > NOW:
        status, times["accepted_at"] = "accepted", accepted
    else:
        status = _weighted(rng, (("completed", 85), ("rejected", 8), ("failed", 4), ("cancelled", 3)))
        if status == "completed":
            times |= {"accepted_at": accepted, "handover_at": reached, "completed_at": reached}
        elif status == "failed":
            times |= {"accepted_at": accepted, "status_reason": "could not reach the caller"}
        else:
            times["status_reason"] = "outside our area" if status == "rejected" else "consent withdrawn"
    accept_by, contact_by = made + timedelta(hours=24), made + timedelta(hours=72)
    late_accept = (times["accepted_at"] or NOW) > accept_by and status in ("requested", "accepted", "completed")
    rows.add(
        TransferTicket,
        id=ticket_id,
        service_id=service,
        call_id=call_id,
        created_by=user,
        status=status,
        mode="queue",
        urgent=rng.random() < 0.05,
        needs=[rng.choice(line.needs)],
        risk_level="low",
        consent_covers="needs and summary",
        consent_recorded_at=made,
        consent_recorded_by=user,
        accept_by=accept_by,
        contact_by=contact_by,
        accept_breached_at=accept_by if late_accept else None,
        contact_breached_at=None,
        contact_attempts=0,
        created_at=made,
        updated_at=made,
        **times,
    )
    # The trail every transition writes: the capacity model counts the open queue back through it.
    trail = [("create", None, "requested", made)]
    if times["accepted_at"]:
        trail.append(("accept", "requested", "accepted", times["accepted_at"]))
    if status == "completed":
        trail += [("confirm_contact", "accepted", "in-progress", reached), ("complete", "in-progress", status, reached)]
    elif status in ("rejected", "cancelled", "failed"):
        closed = times["accepted_at"] or made + timedelta(hours=rng.uniform(1, 20))
        trail.append((status, trail[-1][2], status, min(closed + timedelta(hours=1), NOW)))
    for action, before, after, at in trail:
        rows.add(
            TicketEvent, ticket_id=ticket_id, at=at, actor="bench", action=action, from_status=before, to_status=after
        )
    rows.add(
        PartnerNotification,
        organisation_id=organisation,
        ticket_id=ticket_id,
        event="ticket.created",
        body={"ticket_id": ticket_id},
        status="delivered",
        attempts=1,
        created_at=made,
        delivered_at=made,
    )


def _answered(rows: Rows, line: Line, rng: random.Random, call_id: int, answered: datetime, listener: int) -> datetime:
    """The session, its log (most calls) and perhaps a warm transfer; returns when it ended."""
    session_id = line.next_id("session")
    ended = answered + timedelta(seconds=60 + min(rng.expovariate(1 / 1000), 3600))
    due = answered + timedelta(minutes=30)
    running = ended > NOW
    rows.add(
        SupportSession,
        id=session_id,
        call_id=call_id,
        listener_id=listener,
        started_at=answered,
        warning_at=due - timedelta(minutes=5),
        due_at=due,
        ended_at=None if running else ended,
        overrun_seconds=0 if running else max(0, int((ended - due).total_seconds())),
        wrap_up_until=None if running else ended + timedelta(minutes=2),
    )
    logged = ended + timedelta(minutes=1)
    if running or logged > NOW or rng.random() < 0.08:
        return ended
    log_id = line.next_id("log")
    risk = _weighted(rng, RISKS)
    rows.add(
        CallLog,
        id=log_id,
        session_id=session_id,
        created_at=logged,
        created_by=listener,
        current_revision=1,
        risk_flagged_at=logged if risk in ("high", "immediate") else None,
    )
    outcome = _weighted(rng, OUTCOMES)
    rows.add(
        CallLogRevision,
        id=log_id,
        call_log_id=log_id,
        revision=1,
        contact_type="support" if rng.random() < 0.85 else rng.choice(("silent", "wrong-number", "hang-up")),
        needs=rng.sample(line.needs, rng.randint(0, 2)),
        risk_level=risk,
        consent_to_share=outcome == "warm-transfer",
        sms_consent=False,
        title="Support call",
        outcome=outcome,
        created_at=logged,
        created_by=listener,
    )
    if outcome == "warm-transfer" or rng.random() < 0.005:
        _ticket(rows, line, rng, call_id, logged, listener)
    return ended


def _call(rows: Rows, line: Line, rng: random.Random, at: datetime) -> None:
    call_id = line.next_id("call")
    waited = int(min(rng.expovariate(1 / 25), 900))
    gave_up = rng.random() < 0.05
    answered = at + timedelta(seconds=waited)
    listener = rng.choice(line.listeners)
    ended = at + timedelta(seconds=waited) if gave_up else _answered(rows, line, rng, call_id, answered, listener)
    live = ended > NOW
    rows.add(
        Call,
        id=call_id,
        call_sid=f"CA{call_id:032x}",
        direction="inbound",
        status="in-progress" if live else "completed",
        to_number="+441632960000",
        queue_state="connected" if live else "ended",
        waiting_since=at,
        claimed_at=None if gave_up else answered,
        answered_at=None if gave_up else answered,
        ended_at=None if live else ended,
        wait_seconds=waited,
        abandoned=gave_up,
        ended_by=None if live else ("caller" if gave_up else rng.choice(("caller", "listener"))),
        listener_id=None if gave_up else listener,
        created_at=at,
        updated_at=ended if not live else at,
        **_caller(rng),
    )


def _shifts(rows: Rows, line: Line, rng: random.Random, day: datetime) -> None:
    """Each listener's shift that day: on at some hour, off six hours later (or still on)."""
    for listener in line.listeners:
        if rng.random() < 0.4:
            continue
        on = day + timedelta(hours=rng.choice((8, 12, 16, 18, 19, 20)), minutes=rng.randint(0, 59))
        for status, at in (("available", on), ("offline", on + timedelta(hours=6))):
            if at <= NOW:
                rows.add(PresenceChange, user_id=listener, status=status, at=at)


def days_of_line(line: Line, calls_per_year: int, rng: random.Random) -> Iterator[tuple[datetime, Rows]]:
    """The year before NOW, a day at a time (oldest first), with its calls at the week's shape."""
    rates = weekly_profile(calls_per_year * 7 / 365)
    first = (NOW - timedelta(days=365)).replace(hour=0, minute=0, second=0, microsecond=0)
    day = first
    while day <= NOW:
        rows = Rows()
        _shifts(rows, line, rng, day)
        for hour in range(24):
            start = day + timedelta(hours=hour)
            for _ in range(_poisson(rng, rates[hour_of_week(start)])):
                at = start + timedelta(seconds=rng.uniform(0, 3600))
                if at < NOW:
                    _call(rows, line, rng, at)
        yield day, rows
        day += timedelta(days=1)


def _tonight_for(rows: Rows, line: Line, listener: int) -> None:
    """The benchmarked listener's night: eight calls tonight and one running now."""
    for n in range(9):
        at = NOW - timedelta(minutes=80 * n + 5)
        call_id = line.next_id("call")
        session_id = line.next_id("session")
        running = n == 0
        ended = at + timedelta(minutes=25)
        rows.add(
            Call,
            id=call_id,
            call_sid=f"CA{call_id:032x}",
            direction="inbound",
            status="in-progress" if running else "completed",
            to_number="+441632960000",
            queue_state="connected" if running else "ended",
            waiting_since=at,
            claimed_at=at,
            answered_at=at,
            ended_at=None if running else ended,
            wait_seconds=0,
            listener_id=listener,
            ended_by=None if running else "caller",
            created_at=at,
            updated_at=at,
            abandoned=False,
            from_withheld=True,
            from_hash=None,
            from_masked="withheld",
        )
        rows.add(
            SupportSession,
            id=session_id,
            call_id=call_id,
            listener_id=listener,
            started_at=at,
            warning_at=at + timedelta(minutes=25),
            due_at=at + timedelta(minutes=30),
            ended_at=None if running else ended,
            overrun_seconds=0,
            wrap_up_until=None if running else ended + timedelta(minutes=2),
        )


async def insert(engine: AsyncEngine, rows: Rows) -> None:
    async with engine.begin() as conn:
        for model in SEEDED:
            batch = rows.tables[model]
            for start in range(0, len(batch), 5000):
                await conn.execute(model.__table__.insert(), batch[start : start + 5000])


async def prepare_line(app: Any) -> tuple[Line, dict[str, Any]]:
    """People and the directory through the app's own services (passwords hashed as usual)."""
    async with session_scope(app.state.runtime) as session:
        await import_directory(session, parse_directory(DEMO_DIRECTORY.read_text()))
        services = (await session.execute(sa.select(Service.id, Service.organisation_id).order_by(Service.id))).all()
        needs = list(await session.scalars(sa.select(NeedCategory.slug).order_by(NeedCategory.slug)))
        # Hashing a password takes a while on purpose: the benchmarked three sign in, the rest
        # of the listeners share the first one's hash.
        first = await create_user(session, username="listener0", password=PASSWORD, role="listener")
        others = [
            User(
                username=f"listener{n}",
                display_name=f"Listener {n}",
                role="listener",
                password_hash=first.password_hash,
                created_at=NOW,
            )
            for n in range(1, LISTENERS)
        ]
        session.add_all(others)
        await session.flush()
        listeners = [first.id, *(u.id for u in others)]
        await create_user(session, username="supervisor", password=PASSWORD, role="supervisor")
        service, organisation = services[0]
        await create_user(session, username="partner", password=PASSWORD, role="partner", organisation_id=organisation)
        for n, user_id in enumerate(listeners):
            session.add(ListenerPresence(user_id=user_id, status="available" if n % 3 else "offline", since=NOW))
    return Line(listeners, [tuple(s) for s in services], needs), {"service": service}


async def seed(
    apps: dict[str, Any], engines: dict[str, AsyncEngine], calls: int, small_days: int
) -> tuple[dict[str, int], int]:
    """The year into the large database and its last days into the small one: (calls in each,
    the partner's service)."""
    lines = {name: await prepare_line(app) for name, app in apps.items()}
    # Both databases were given the same people in the same order: the same ids.
    line, extra = lines["large"]
    small_from = NOW - timedelta(days=small_days)
    counted = dict.fromkeys(("small", "large"), 0)
    pending = {name: Rows() for name in engines}
    for day, rows in days_of_line(line, calls, random.Random(2026)):
        if day.date() == NOW.date():
            _tonight_for(rows, line, line.listeners[0])
        targets = ("large", "small") if day >= small_from else ("large",)
        for name in targets:
            for model in SEEDED:
                pending[name].tables[model] += rows.tables[model]
            counted[name] += len(rows.tables[Call])
            if len(pending[name].tables[Call]) >= 20_000:
                await insert(engines[name], pending[name])
                pending[name] = Rows()
    for name, rows in pending.items():
        await insert(engines[name], rows)
    return counted, extra["service"]


async def after_load(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        for model in SEEDED:
            table = model.__tablename__
            await conn.execute(
                sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )
    # Vacuumed and analysed as autovacuum would leave them, so it does not start mid-measurement.
    async with engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(sa.text("VACUUM ANALYZE"))


async def signed_in(app: Any, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL, timeout=120)
    page = await client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    response = await client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, f"{username} could not sign in: {response.status_code}"
    return client


def endpoints(service: int) -> list[tuple[str, str, str]]:
    """(name, who asks, path): the month is the 30 days up to yesterday."""
    month = "from=2026-11-01&to=2026-11-30"
    return [
        ("board data", "supervisor", "/api/supervisor/board"),
        ("reports page, a month", "supervisor", f"/reports?{month}"),
        ("report calls, a month", "supervisor", f"/api/reports/calls?{month}"),
        ("report hours, a month", "supervisor", f"/api/reports/hours?{month}"),
        ("report repeat callers", "supervisor", f"/api/reports/repeat-callers?{month}"),
        ("report call logs", "supervisor", f"/api/reports/call-logs?{month}"),
        ("report handovers", "supervisor", f"/api/reports/handovers?{month}"),
        ("report partners", "supervisor", f"/api/reports/partners?{month}"),
        ("capacity (4 weeks)", "supervisor", "/api/capacity"),
        ("listener current session", "listener0", "/api/listener/sessions/current"),
        ("listener tonight", "listener0", "/api/listener/tonight"),
        ("partner queue", "partner", f"/api/partner/v1/services/{service}/queue"),
    ]


async def _timed_get(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    response = await client.get(path)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    return elapsed * 1000


async def measure(apps: dict[str, Any], service: int, repeats: int, seconds: float) -> dict[str, dict[str, float]]:
    """Each endpoint asked of the small and the large database in turn (so a busy moment on this
    shared machine falls on both alike): a warm-up each, then medians of up to ``repeats``."""
    clients = {
        name: {who: await signed_in(app, who) for who in ("supervisor", "listener0", "partner")}
        for name, app in apps.items()
    }
    results: dict[str, dict[str, float]] = {}
    for label, who, path in endpoints(service):
        times: dict[str, list[float]] = {name: [] for name in apps}
        for name in apps:
            await _timed_get(clients[name][who], path)  # compiled statements, the page's templates
        deadline = time.perf_counter() + seconds
        while len(times["large"]) < repeats and (not times["large"] or time.perf_counter() < deadline):
            for name in apps:
                times[name].append(await _timed_get(clients[name][who], path))
        results[label] = {name: statistics.median(values) for name, values in times.items()}
    for by_who in clients.values():
        for client in by_who.values():
            await client.aclose()
    return results


# Partial indexes hold only what is open or running now: scanning one is bounded by the floor.
PARTIAL = ("ix_support_sessions_running", "ix_follow_ups_open", "ix_safeguarding_records_open")
# Tables that grow with the line's history: a full scan of one of these is a query to bound.
GROWING = (
    "calls",
    "support_sessions",
    "call_logs",
    "call_log_revisions",
    "transfer_tickets",
    "partner_notifications",
    "presence_changes",
    "ticket_events",
    "jobs",
    "audit_events",
)


async def show_plans(app: Any, service: int) -> None:
    """Each endpoint's statements on the large database, and the plan of any that reads a whole
    growing table (SQLite: ``SCAN <table>``; PostgreSQL: ``Seq Scan on <table>``)."""
    engine = app.state.runtime.engine
    seen: list[tuple[str, str, Any]] = []
    current = ["sign-in"]

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((current[0], statement, parameters))

    clients = {who: await signed_in(app, who) for who in ("supervisor", "listener0", "partner")}
    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    for label, who, path in endpoints(service):
        current[0] = label
        await clients[who].get(path)
    sa.event.remove(engine.sync_engine, "before_cursor_execute", record)
    for client in clients.values():
        await client.aclose()
    postgres = engine.dialect.name == "postgresql"
    done = set()
    async with engine.connect() as conn:
        for label, statement, parameters in seen:
            if statement in done:
                continue
            done.add(statement)
            explain = ("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement
            plan = [" ".join(str(c) for c in row) for row in await conn.exec_driver_sql(explain, parameters)]
            text = "\n".join(plan)
            pattern = r"Seq Scan on (\w+)" if postgres else r"SCAN (\w+)"
            scanned = [line for line in plan if re.search(pattern, line) and not any(p in line for p in PARTIAL)]
            if any(table in GROWING for line in scanned for table in re.findall(pattern, line)):
                print(f"--- {label}: reads a whole table\n{' '.join(statement.split())[:600]}\n{text}\n")


async def _database_urls(postgres: str | None, workdir: Path) -> dict[str, str]:
    if not postgres:
        return {name: f"sqlite+aiosqlite:///{workdir / name}.db" for name in ("small", "large")}
    admin = create_async_engine(postgres, isolation_level="AUTOCOMMIT")
    urls = {}
    base, _, query = postgres.partition("?")
    async with admin.connect() as conn:
        for name in ("small", "large"):
            database = f"openline_scale_{name}_{secrets.token_hex(3)}"
            await conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
            urls[name] = base.rsplit("/", 1)[0] + "/" + database + (f"?{query}" if query else "")
    await admin.dispose()
    return urls


async def _drop_databases(postgres: str, urls: dict[str, str]) -> None:
    admin = create_async_engine(postgres, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        for url in urls.values():
            database = url.partition("?")[0].rsplit("/", 1)[1]
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    await admin.dispose()


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="openline-scale-") as tmp:
        urls = await _database_urls(args.postgres, Path(args.keep or tmp))
        lifespans, engines = [], {}
        try:
            apps = {}
            for name, url in urls.items():
                await upgrade_database_async(url)
                apps[name] = create_app(settings_for(url), clock=FakeClock(NOW))
                lifespan = apps[name].router.lifespan_context(apps[name])
                await lifespan.__aenter__()
                lifespans.append(lifespan)
                engines[name] = create_async_engine(url)
            started = time.perf_counter()
            counted, service = await seed(apps, engines, args.calls, args.small_days)
            for engine in engines.values():
                await after_load(engine)
            kind = "PostgreSQL" if args.postgres else "SQLite"
            print(
                f"{kind}: seeded {counted['small']:,} calls (small, {args.small_days} days) and "
                f"{counted['large']:,} (large, a year) in {time.perf_counter() - started:.0f} s"
            )
            if args.plans:
                await show_plans(apps["large"], service)
            results = await measure(apps, service, args.repeats, args.seconds)
        finally:
            for engine in engines.values():
                await engine.dispose()
            for lifespan in reversed(lifespans):
                await lifespan.__aexit__(None, None, None)
            if args.postgres:
                await _drop_databases(args.postgres, urls)
    return report(results)


def report(results: dict[str, dict[str, float]]) -> int:
    print(f"{'endpoint':28} {'small ms':>9} {'large ms':>9} {'ratio':>6}")
    worst = 0.0
    for label, times in results.items():
        ratio = times["large"] / times["small"]
        worst = max(worst, ratio)
        flag = "" if ratio <= TARGET_RATIO else "  over target"
        print(f"{label:28} {times['small']:9.1f} {times['large']:9.1f} {ratio:6.2f}{flag}")
    print(f"worst ratio {worst:.2f} (target <= {TARGET_RATIO:.0f}x)")
    return 0 if worst <= TARGET_RATIO else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000, help="calls in the large database's year")
    parser.add_argument(
        "--small-days",
        type=int,
        default=70,
        help="days of the same line in the small database (a month and the one before)",
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed requests per endpoint (the median is shown)")
    parser.add_argument("--seconds", type=float, default=5.0, help="at most this long timing one endpoint")
    parser.add_argument("--plans", action="store_true", help="print the plans that read a whole growing table")
    parser.add_argument("--keep", metavar="DIR", help="write the SQLite databases here and keep them (for EXPLAIN)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server (its admin database URL)")
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
