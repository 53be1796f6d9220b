"""``make bench``: Twilio webhook throughput and latency, against a bare endpoint.

Starts the server as its own process (uvicorn, one worker, a fresh migrated SQLite database,
signature checks on, the job loop off) and, from this separate process, drives signed requests
at 1, 8 and 32 concurrent keep-alive connections:

* ``bare``      ``/bench/bare``: parse the form, answer constant TwiML (the floor);
* ``incoming``  ``/telephony/voice/incoming``: signature + a new call stored + TwiML;
* ``status``    ``/telephony/voice/status``: signature + ``completed`` for those calls (the caller
                hangs up while waiting: the call is ended and the queue republished).

Each level sends at most REQUESTS requests or runs at most SECONDS seconds per endpoint. Besides
throughput and p50/p99 latency it reports the server's own CPU time per request (from /proc), which
does not depend on how fast this client can send.

The load is sent with aiohttp (already installed with twilio), not httpx: on this 2-core machine an
httpx client could not send more than ~700 requests/s and its own queueing put ~0.5 s on the p99
at 32 connections, so it measured itself rather than the server.

``--postgres URL`` runs the same against a fresh database created on that PostgreSQL server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
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
TARGET_RATIO, TARGET_P99_MS = 0.5, 25.0


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


def start_server(port: int, workdir: Path, database_url: str) -> subprocess.Popen:
    upgrade_database_in_thread(database_url)
    env = os.environ | {
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
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def run_level(
    base: str, concurrency: int, pid: int, validator: RequestValidator, serial: int, count: int = REQUESTS
) -> list[Result]:
    sids = [f"CA{serial:08x}{i:024x}" for i in range(count)]
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
        # Hang up exactly the calls that arrived, so every status callback finds its call.
        arrived = sids[: results[-1].sent]
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


def report(results: list[Result]) -> bool:
    print(
        f"\n{'conc':>4} {'endpoint':<9} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'server CPU ms/req':>18} {'vs bare':>8}"
    )
    met = True
    for level in LEVELS:
        rows = [r for r in results if r.concurrency == level]
        bare = next(r for r in rows if r.name == "bare")
        for r in rows:
            ratio = r.throughput / bare.throughput
            print(
                f"{level:>4} {r.name:<9} {r.sent:>8} {r.errors:>6} {r.throughput:>8.0f} {r.percentile(0.5):>7.2f} "
                f"{r.percentile(0.99):>7.2f} {r.cpu_ms_per_request:>18.3f} {ratio:>7.0%}"
            )
            if r.errors:
                met = False
        incoming = next(r for r in rows if r.name == "incoming")
        if level == max(LEVELS):
            ok = incoming.throughput >= TARGET_RATIO * bare.throughput and incoming.percentile(0.99) < TARGET_P99_MS
            met = met and ok
            print(
                f"\ntarget at {level} concurrent: incoming >= {TARGET_RATIO:.0%} of bare and "
                f"p99 < {TARGET_P99_MS:.0f} ms: {'met' if ok else 'NOT met'} "
                f"({incoming.throughput / bare.throughput:.0%}, "
                f"p99 {incoming.percentile(0.99):.1f} ms)"
            )
    return met


async def benchmark(base: str, server: subprocess.Popen, workdir: Path, database: str) -> bool:
    async with aiohttp.ClientSession() as probe:
        for _ in range(200):
            try:
                async with probe.get(base + "/readyz") as ready:
                    if ready.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        else:
            print((workdir / "server.log").read_text()[-3000:])
            raise SystemExit("the server did not start")
    validator = RequestValidator(TOKEN)
    print(
        f"{database}: server pid {server.pid} on {base}; {os.cpu_count()} CPUs; "
        f"up to {REQUESTS} requests or {SECONDS:.0f} s per endpoint and level"
    )
    await run_level(base, 8, server.pid, validator, serial=0, count=300)  # warm-up, not reported
    results: list[Result] = []
    for serial, level in enumerate(LEVELS, start=1):
        results += await run_level(base, level, server.pid, validator, serial)
    return report(results)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="benchmark on a fresh database on this PostgreSQL server")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    pg_name = None
    with tempfile.TemporaryDirectory(prefix="openline-bench-") as tmp:
        if args.postgres:
            database_url, pg_name = await create_postgres_database(args.postgres)
        else:
            database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        server = start_server(port, Path(tmp), database_url)
        try:
            met = await benchmark(base, server, Path(tmp), "PostgreSQL" if pg_name else "SQLite")
        finally:
            server.terminate()
            server.wait(timeout=15)
            if pg_name:
                await drop_postgres_database(args.postgres, pg_name)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
