"""Running the simulator as a server, and practice mode: simulated callers who ring now and then,
wait, talk to whoever takes them, give up, or leave a message, so a new listener sees the queue
move and can practise taking calls without a Twilio account.

Callers use numbers from Ofcom's range reserved for drama (07700 900000-900999).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import time
from collections.abc import Generator

import uvicorn

from app.core.settings import Settings
from telephony.simulator import SimulatedCaller, Simulator

log = logging.getLogger("openline.simulator")

# How long a hold document takes to play out; then Twilio follows its <Redirect> (if it ends in
# one) or the caller hears silence. The wait URL is never simply asked again, as <Enqueue>'s is.
HOLD_MUSIC_SECONDS = 30


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the simulator stops on its own ``stop`` event."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _pause(seconds: float, stop: asyncio.Event) -> bool:
    """Sleep unless told to stop; True when it is time to stop."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def _wait_for_app(sim: Simulator, app_url: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            if (await sim.http.get(app_url.rstrip("/") + "/healthz")).status_code == 200:
                return
        except Exception:  # noqa: BLE001 - the app is still starting
            pass
        await _pause(1, stop)


async def play_caller(caller: SimulatedCaller, rng: random.Random, stop: asyncio.Event) -> None:
    """One caller's whole call: patience while waiting, a conversation, or a message."""
    await caller.arrive()
    patience, talk = rng.uniform(240, 1200), rng.uniform(45, 240)
    started = time.monotonic()
    while not stop.is_set() and caller.state != "ended":
        if caller.state == "waiting":
            if time.monotonic() - started > patience:
                await caller.hang_up()
            elif not await _pause(HOLD_MUSIC_SECONDS, stop) and caller.state == "waiting":
                await caller.hear_hold_music()
        elif caller.state == "connected":
            if not await _pause(talk, stop):
                await caller.hang_up()
        elif caller.state == "recording":
            if not await _pause(rng.uniform(5, 15), stop):
                await caller.leave_message(rng.randint(8, 60))
        else:
            await _pause(1, stop)


async def run_practice_callers(
    sim: Simulator,
    stop: asyncio.Event,
    *,
    app_url: str,
    min_gap: float = 20,
    max_gap: float = 60,
    max_waiting: int = 3,
    seed: int | None = None,
) -> None:
    """A new caller every ``min_gap``-``max_gap`` seconds while fewer than ``max_waiting`` wait."""
    rng = random.Random(seed)
    await _wait_for_app(sim, app_url, stop)
    playing: set[asyncio.Task[None]] = set()
    callers: list[SimulatedCaller] = []
    while not stop.is_set():
        callers = [c for c in callers if c.state != "ended"]
        if sum(c.state in ("new", "ringing", "waiting") for c in callers) < max_waiting:
            caller = sim.caller()
            callers.append(caller)
            task = asyncio.create_task(play_caller(caller, rng, stop))
            playing.add(task)
            task.add_done_callback(playing.discard)
            log.info("practice caller rings", extra={"waiting": len(callers)})
        await _pause(rng.uniform(min_gap, max_gap), stop)
    for task in playing:
        task.cancel()
    await asyncio.gather(*playing, return_exceptions=True)


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    # Started by ``openline demo``: a server killed outright cannot stop us, so notice it is gone.
    while not stop.is_set():
        if os.getppid() != parent_pid:
            log.info("the server that started the simulator has gone; stopping")
            stop.set()
        await _pause(1, stop)


async def run_simulator(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    app_url: str | None = None,
    callers: bool = True,
    min_gap: float = 20,
    max_gap: float = 60,
    parent_pid: int | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve the fake Twilio REST API until SIGINT/SIGTERM (or ``stop``, or ``parent_pid`` exiting),
    delivering webhooks to ``app_url`` (default: the public URL) and, with ``callers``, playing
    practice callers."""
    stop = stop or asyncio.Event()
    # Each webhook is logged by the app already; the simulator's HTTP client need not repeat it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    target = (app_url or settings.public_url).rstrip("/")
    sim = Simulator.from_settings(settings, webhook_base=target)
    # A person takes a moment to answer their headset.
    sim.answer_delay_seconds = 1.5
    sim.headsets_ring = True
    server = _QuietServer(
        uvicorn.Config(
            sim.app,
            host=host,
            port=port or settings.simulator_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    tasks = [asyncio.create_task(server.serve()), asyncio.create_task(sim.pump(stop))]
    if parent_pid is not None:
        tasks.append(asyncio.create_task(_watch_parent(parent_pid, stop)))
    if callers:
        tasks.append(
            asyncio.create_task(run_practice_callers(sim, stop, app_url=target, min_gap=min_gap, max_gap=max_gap))
        )
    log.info("Twilio simulator serving", extra={"port": port or settings.simulator_port, "callers": callers})
    await stop.wait()
    server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    await sim.close()
