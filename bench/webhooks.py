"""``make bench``: Twilio webhook throughput and latency, against a bare endpoint.

Starts the server as its own process (uvicorn, one worker, a fresh migrated SQLite database,
signature checks on, the job loop off) and, from this separate process, drives signed requests
at 1, 8 and 32 concurrent keep-alive connections:

* ``bare``      ``/bench/bare``: parse the form, answer constant TwiML (the floor);
* ``incoming``  ``/telephony/voice/incoming``: signature + a new call stored + TwiML;
* ``conference`` ``/telephony/conference/events``: signature + the caller's ``participant-join``
                (SequenceNumber 0) for those calls, as Twilio sends it when they start to wait;
* ``status``    ``/telephony/voice/status``: signature + ``completed`` for those calls (the caller
                hangs up while waiting: the call is ended and the queue republished).

Every measured run uses CallSids never sent before (a replayed CallSid, or a replayed event of
one, takes the cheap stored-reply path and would flatter the figures): each level has its own
serial in the SID, and after the run the database is asked whether it holds exactly one call per
incoming request sent (it must, or some request did not take the full path).

Each level sends at most REQUESTS requests or runs at most SECONDS seconds per endpoint. Besides
throughput and p50/p99 latency it reports the server's own CPU time per request (from /proc, the
server's processes summed), which does not depend on how fast this client can send.

The load is sent with aiohttp (already installed with twilio), not httpx: on this 2-core machine an
httpx client could not send more than ~700 requests/s and its own queueing put ~0.5 s on the p99
at 32 connections, so it measured itself rather than the server.

``--postgres URL`` runs the same against a fresh database created on that PostgreSQL server;
``--workers N`` serves it with N uvicorn worker processes (PostgreSQL only: SQLite is one process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEVELS = (1, 8, 32)
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "3000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
ACCOUNT_SID = "AC" + "b" * 32
TOKEN = secrets.token_urlsafe(32)
# Issue 16's targets at 32 connections on SQLite (0.5x is the aim beyond the target).
TARGET_RATIO, TARGET_P99_MS = 0.35, 50.0
ENDPOINTS = ("bare", "incoming", "conference", "status")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Result:
    name: str
    concurrency: int
    sent: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    cpu_ms_per_request: float

    @property
    def throughput(self) -> float:
        return self.sent / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def upgrade_database_in_thread(database_url: str) -> None:
    """Alembic's env runs its own event loop, so it cannot run on this one."""
    import threading

    from app.db_admin import upgrade_database

    thread = threading.Thread(target=upgrade_database, args=(database_url,))
    thread.start()
    thread.join()


async def create_postgres_database(admin_url: str) -> tuple[str, str]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"openline_bench_{secrets.token_hex(4)}"
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    base, _, query = admin_url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else ""), name


async def drop_postgres_database(admin_url: str, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


def start_server(
    port: int, workdir: Path, database_url: str, workers: int = 1, extra_env: dict[str, str] | None = None
) -> subprocess.Popen:
    """The server as ``openline serve`` runs it, on an already migrated database."""
    env = (
        os.environ
        | {
            "OPENLINE_ENVIRONMENT": "test",
            "OPENLINE_DATABASE_URL": database_url,
            "OPENLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "OPENLINE_TELEPHONY": "twilio",
            "OPENLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "OPENLINE_TWILIO_AUTH_TOKEN": TOKEN,
            "OPENLINE_TWILIO_CALLER_ID": "+441632960000",
            "OPENLINE_SECRET_KEY": secrets.token_urlsafe(32),
            "OPENLINE_DATA_KEY": secrets.token_urlsafe(32),
            "OPENLINE_RUN_JOBS": "false",
            "OPENLINE_LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT),
        }
        | (extra_env or {})
    )
    log = open(workdir / "server.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.server:create_bench_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )


def _process_stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def server_cpu_seconds(pid: int) -> float:
    """CPU time of the server and its worker processes (uvicorn ``--workers`` forks children)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _process_stat(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def signed(base: str, path: str, params: dict[str, str], validator: RequestValidator) -> tuple[str, bytes, dict]:
    url = base + path
    headers = {
        "X-Twilio-Signature": validator.compute_signature(url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return path, urlencode(params).encode(), headers


def call_fields(sid: str, status: str, **extra: str) -> dict[str, str]:
    number = f"+4477009{int(sid[-5:], 16) % 1000:05d}"
    return {
        "CallSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": number,
        "Caller": number,
        "To": "+441234000000",
        "Called": "+441234000000",
        "CallStatus": status,
        "ApiVersion": "2010-04-01",
        "Direction": "inbound",
        "ForwardedFrom": "",
        "CallerName": "",
        "ParentCallSid": "",
        "CallToken": "",
        "FromCountry": "GB",
        **extra,
    }


async def drive(client: aiohttp.ClientSession, name: str, concurrency: int, requests: list, pid: int) -> Result:
    latencies: list[float] = []
    errors = 0
    position = 0
    deadline = time.perf_counter() + SECONDS

    async def worker() -> None:
        nonlocal position, errors
        while position < len(requests) and time.perf_counter() < deadline:
            path, body, headers = requests[position]
            position += 1
            started = time.perf_counter()
            async with client.post(path, data=body, headers=headers) as response:
                await response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            errors += response.status != 200

    cpu_before, started = server_cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, server_cpu_seconds(pid) - cpu_before
    return Result(name, concurrency, len(latencies), errors, elapsed, latencies, cpu * 1000 / max(1, len(latencies)))


SENT_SIDS: set[str] = set()


def fresh_sids(serial: int, count: int) -> list[str]:
    """CallSids this run has never sent: a repeat would be answered from the store."""
    sids = [f"CA{serial:08x}{i:024x}" for i in range(count)]
    assert SENT_SIDS.isdisjoint(sids), "a measured run must not replay a CallSid"
    SENT_SIDS.update(sids)
    return sids


def conference_fields(sid: str) -> dict[str, str]:
    """The caller's participant-join, as Twilio posts it when they start waiting in their room."""
    return {
        "AccountSid": ACCOUNT_SID,
        "ConferenceSid": "CF" + sid[2:],
        "FriendlyName": f"call-{sid}",
        "StatusCallbackEvent": "participant-join",
        "SequenceNumber": "0",
        "Timestamp": "Tue, 01 Dec 2026 20:00:00 +0000",
        "CallSid": sid,
        "Hold": "false",
        "Muted": "false",
        "Coaching": "false",
        "EndConferenceOnExit": "true",
        "StartConferenceOnEnter": "false",
    }


async def run_level(
    base: str, concurrency: int, pid: int, validator: RequestValidator, serial: int, count: int = REQUESTS
) -> list[Result]:
    sids = fresh_sids(serial, count)
    bare = [signed(base, "/bench/bare", call_fields(sid, "ringing"), validator) for sid in sids]
    incoming = [signed(base, "/telephony/voice/incoming", call_fields(sid, "ringing"), validator) for sid in sids]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        base_url=base, connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as client:
        results = [
            await drive(client, "bare", concurrency, bare, pid),
            await drive(client, "incoming", concurrency, incoming, pid),
        ]
        # Only the calls that arrived: every conference event and status callback finds its call.
        arrived = sids[: results[-1].sent]
        joins = [signed(base, "/telephony/conference/events", conference_fields(sid), validator) for sid in arrived]
        results.append(await drive(client, "conference", concurrency, joins, pid))
        # Hang up the callers whose join was sent: each status callback ends a waiting call.
        arrived = arrived[: results[-1].sent]
        status = [
            signed(
                base,
                "/telephony/voice/status",
                call_fields(
                    sid, "completed", SequenceNumber="2", CallbackSource="call-progress-events", CallDuration="12"
                ),
                validator,
            )
            for sid in arrived
        ]
        results.append(await drive(client, "status", concurrency, status, pid))
    return results


def report(results: list[Result], database: str) -> tuple[bool, Result, Result]:
    """Print the table; False if any request failed. Also the 32-connection bare and incoming rows."""
    print(
        f"\n{'conc':>4} {'endpoint':<10} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'server CPU ms/req':>18} {'vs bare':>8}"
    )
    clean = True
    for level in LEVELS:
        rows = [r for r in results if r.concurrency == level]
        bare = next(r for r in rows if r.name == "bare")
        for r in rows:
            ratio = r.throughput / bare.throughput
            print(
                f"{level:>4} {r.name:<10} {r.sent:>8} {r.errors:>6} {r.throughput:>8.0f} {r.percentile(0.5):>7.2f} "
                f"{r.percentile(0.99):>7.2f} {r.cpu_ms_per_request:>18.3f} {ratio:>7.0%}"
            )
            clean = clean and not r.errors
    top = [r for r in results if r.concurrency == max(LEVELS)]
    bare, incoming = (next(r for r in top if r.name == name) for name in ("bare", "incoming"))
    if database == "SQLite":
        ok = incoming.throughput >= TARGET_RATIO * bare.throughput and incoming.percentile(0.99) < TARGET_P99_MS
        print(
            f"\ntarget at {max(LEVELS)} connections on SQLite: incoming >= {TARGET_RATIO:.0%} of bare and "
            f"p99 < {TARGET_P99_MS:.0f} ms: {'met' if ok else 'NOT met'} "
            f"({incoming.throughput / bare.throughput:.0%}, p99 {incoming.percentile(0.99):.1f} ms)"
        )
    return clean, bare, incoming


@contextlib.asynccontextmanager
async def autovacuum_stand_in(database_url: str, every: float = 10.0) -> AsyncIterator[None]:
    """On a PostgreSQL server with autovacuum off (this machine's test server), the tables a run
    grows are never analyzed: the server's prepared statements keep the plans made for empty
    tables (a scan where an index is wanted) and dead row versions pile up. A run there measures
    that, not the server; so, while autovacuum is off, ``VACUUM ANALYZE`` every ``every`` seconds,
    as autovacuum would. Nothing on SQLite or where autovacuum is on."""
    if not database_url.startswith("postgresql"):
        yield
        return
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        autovacuum = await conn.exec_driver_sql("SHOW autovacuum")
        on = autovacuum.scalar() == "on"
    if on:
        await engine.dispose()
        yield
        return
    print(f"PostgreSQL's autovacuum is off here: VACUUM ANALYZE every {every:.0f} s in its stead")

    async def vacuum() -> None:
        while True:
            await asyncio.sleep(every)
            async with engine.connect() as conn:
                await conn.exec_driver_sql("VACUUM ANALYZE")

    task = asyncio.create_task(vacuum())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()


async def count_rows(database_url: str, queries: dict[str, str]) -> dict[str, int]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            return {name: int(await conn.scalar(text(sql)) or 0) for name, sql in queries.items()}
    finally:
        await engine.dispose()


async def check_full_path(database_url: str, results: list[Result]) -> bool:
    """Each measured request must have done the real work: one new call per incoming request,
    one participant per conference event, one ended call per status callback."""
    sent = {name: sum(r.sent for r in results if r.name == name) for name in ENDPOINTS}
    stored = await count_rows(
        database_url,
        {
            "incoming": "SELECT count(*) FROM calls",
            "conference": "SELECT count(*) FROM call_participants",
            "status": "SELECT count(*) FROM calls WHERE queue_state = 'ended'",
        },
    )
    ok = all(stored[name] == sent[name] for name in stored)
    print(
        f"fresh CallSids, full path: calls {stored['incoming']}/{sent['incoming']} incoming, "
        f"participants {stored['conference']}/{sent['conference']} conference events, "
        f"ended {stored['status']}/{sent['status']} status callbacks: {'ok' if ok else 'MISMATCH'}"
    )
    return ok


async def wait_until_ready(base: str, workdir: Path) -> None:
    async with aiohttp.ClientSession() as probe:
        for _ in range(300):
            try:
                async with probe.get(base + "/readyz") as ready:
                    if ready.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    print((workdir / "server.log").read_text()[-3000:])
    raise SystemExit("the server did not start")


async def benchmark(database_url: str, database: str, workers: int) -> tuple[bool, Result, Result]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="openline-bench-") as tmp:
        server = start_server(port, Path(tmp), database_url, workers)
        try:
            await wait_until_ready(base, Path(tmp))
            validator = RequestValidator(TOKEN)
            print(
                f"\n{database}, {workers} worker{'s' if workers > 1 else ''}: server pid {server.pid} on {base}; "
                f"{os.cpu_count()} CPUs; up to {REQUESTS} requests or {SECONDS:.0f} s per endpoint and level"
            )
            serial = len(SENT_SIDS) + 1  # past every serial used so far: never a SID sent before
            results = await run_level(base, 8, server.pid, validator, serial=serial, count=300)  # warm-up
            measured: list[Result] = []
            async with autovacuum_stand_in(database_url):
                for offset, level in enumerate(LEVELS, start=1):
                    measured += await run_level(base, level, server.pid, validator, serial + offset)
            clean, bare, incoming = report(measured, database)
            clean = await check_full_path(database_url, results + measured) and clean
        finally:
            server.terminate()
            server.wait(timeout=30)
    return clean, bare, incoming


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="benchmark on a fresh database on this PostgreSQL server")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        metavar="N",
        help="uvicorn worker processes, one run each on a fresh database (e.g. --workers 1 2; PostgreSQL only above 1)",
    )
    args = parser.parse_args()
    if not args.postgres and args.workers != [1]:
        parser.error("SQLite is served by one process: --workers above 1 needs --postgres")
    clean, incoming_by_workers = True, {}
    for workers in args.workers:
        pg_name = None
        with tempfile.TemporaryDirectory(prefix="openline-bench-db-") as tmp:
            if args.postgres:
                database_url, pg_name = await create_postgres_database(args.postgres)
            else:
                database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            upgrade_database_in_thread(database_url)
            try:
                ok, _, incoming = await benchmark(database_url, "PostgreSQL" if pg_name else "SQLite", workers)
            finally:
                if pg_name:
                    await drop_postgres_database(args.postgres, pg_name)
        clean = clean and ok
        incoming_by_workers[workers] = incoming
    if len(incoming_by_workers) > 1:
        print(
            "\nincoming call webhook at 32 connections by workers: "
            + ", ".join(
                f"{w}: {r.throughput:.0f} req/s (p99 {r.percentile(0.99):.0f} ms)"
                for w, r in incoming_by_workers.items()
            )
        )
        most, fewest = max(incoming_by_workers), min(incoming_by_workers)
        faster = incoming_by_workers[most].throughput > incoming_by_workers[fewest].throughput
        print(f"target: {most} workers faster than {fewest}: {'met' if faster else 'NOT met'}")
    # Missed targets are reported, not failed: `make bench` goes on to the national day. Failed
    # requests or work not done are failures.
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
