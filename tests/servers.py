"""Real HTTP for tests: the app under uvicorn (in this process or as its own), and an SSE reader."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve an app whose lifespan the test already runs, over a real socket on 127.0.0.1."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # bounded: a real server takes a moment to listen
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@asynccontextmanager
async def process_serving(args: list[str], env: dict[str, str]) -> AsyncIterator[tuple[str, subprocess.Popen]]:
    """A Python program of ours as its own process on a free port (``{port}`` in ``args``), once
    its /healthz answers; stopped afterwards. Yields its base URL and the process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, *(a.format(port=port) for a in args)], env=os.environ | env, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_healthy(base)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=15)


@asynccontextmanager
async def server_process(env: dict[str, str]) -> AsyncIterator[str]:
    """``openline serve`` as its own process (what production runs behind a load balancer)."""
    async with process_serving(["-c", "from app.cli import main; main()", "serve", "--port", "{port}"], env) as (
        base,
        _,
    ):
        yield base


async def wait_until_healthy(base: str, attempts: int = 150) -> None:
    """A real process takes a moment to start listening; bounded, then an error."""
    async with httpx.AsyncClient() as client:
        for _ in range(attempts):
            try:
                if (await client.get(base + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing healthy at {base}")


@dataclass
class Sse:
    event: str
    id: str | None
    data: Any


class EventReader:
    """Reads server-sent events off one open response, across several waits."""

    def __init__(self, response: httpx.Response):
        self.lines = response.aiter_lines()
        self.fields: dict[str, str] = {}

    async def next(self, count: int, *, timeout: float = 10.0, skip: tuple[str, ...] = ()) -> list[Sse]:
        """The next ``count`` events (those named in ``skip`` not counted), or a timeout error."""
        events: list[Sse] = []

        async def collect() -> None:
            async for line in self.lines:
                if line == "":
                    event = self.fields.get("event", "message")
                    if "data" in self.fields and event not in skip:
                        events.append(Sse(event, self.fields.get("id"), json.loads(self.fields["data"])))
                    self.fields.clear()
                    if len(events) == count:
                        return
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    self.fields[name] = value[1:] if value.startswith(" ") else value

        await asyncio.wait_for(collect(), timeout)
        return events
