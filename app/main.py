"""``create_app()``: builds the runtime and wires the three packages together."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.middleware.sessions import SessionMiddleware

from app.core.clock import Clock
from app.core.events import PostgresListener
from app.core.jobs import JobLoop
from app.core.observability import Metrics, RequestContextMiddleware
from app.core.runtime import Runtime
from app.core.settings import Settings

log = logging.getLogger("openline")
STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = build_runtime(settings, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if not settings.signature_checks:
            log.warning("!!! SIMULATED TELEPHONY: Twilio signature checks are OFF. Development and practice only. !!!")
        listener = None
        if not settings.is_sqlite:
            listener = PostgresListener(settings.database_url.replace("+asyncpg", ""), runtime.bus)
            await listener.start()
            runtime.extras["live_listener"] = listener
        loop = JobLoop(runtime, settings.job_poll_seconds) if settings.run_jobs else None
        if loop:
            loop.start()
        # Everything built at start-up (modules, routes, the ORM's mappings) lives as long as the
        # process: leave it out of the collector's full passes, which otherwise walk it all and
        # stall every request in flight (one run of bench/webhooks.py: the incoming webhook's
        # p99 at 32 connections 180 -> 112 ms).
        gc.freeze()
        try:
            yield
        finally:
            if loop:
                await loop.stop()
            if listener:
                await listener.stop()
            await runtime.close()

    # /docs and /redoc load Swagger UI and ReDoc from the installed package, never a CDN: the
    # documentation works on a closed network, and no third party's script runs on our origin.
    app = FastAPIOffline(
        title="Openline",
        static_url="/static-docs",
        favicon_url="/static/favicon.svg",
        version="0.1.0",
        lifespan=lifespan,
        description="Call handling and warm transfers for a 24/7 mental-health support line.",
    )
    app.state.runtime = runtime
    app.state.metrics = Metrics()
    _install(app, runtime)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="openline_session",
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
        max_age=12 * 3600,
    )
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics, max_body_bytes=settings.max_body_bytes)
    return app


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    """The runtime with every feature's jobs and event handlers registered."""
    runtime = Runtime(settings=settings, clock=clock or Clock())
    # telephony: its stored jobs (overflow, claim timeout) and the after-commit dialler.
    from telephony.setup import register as register_telephony

    register_telephony(runtime)
    from app.helpline.sessions import register as register_sessions

    register_sessions(runtime)
    from transfers.tickets.targets import register as register_targets

    register_targets(runtime)
    from transfers.tickets.texts import register as register_texts

    register_texts(runtime)  # the text to a caller once a partner accepts
    from transfers.live_transfer import register as register_live_transfers

    register_live_transfers(runtime)
    from transfers.notifications import register as register_notifications

    register_notifications(runtime)
    from telephony.monitoring import register as register_monitoring

    register_monitoring(runtime)
    from app.shiftlead.crisis import register as register_crisis_lines

    register_crisis_lines(runtime)
    from app.privacy.retention import register as register_retention

    register_retention(runtime)  # the hourly purge of what is past its retention
    from app.shiftlead.alerts import register as register_timed_alerts

    register_timed_alerts(runtime)
    from app.admin.line import register as register_line_settings

    register_line_settings(runtime)  # the telephony reads the admin's line settings through the runtime
    return runtime


async def run_worker(settings: Settings) -> None:
    """``openline worker``: only the job loop, for deployments that run it apart from the web."""
    import asyncio
    import signal

    runtime = build_runtime(settings)
    loop = JobLoop(runtime, settings.job_poll_seconds)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    loop.start()
    log.info("worker started")
    await stop.wait()
    await loop.stop()
    await runtime.close()


def _install(app: FastAPI, runtime: Runtime) -> None:
    from app import auth, ops
    from app.admin.router import pages as admin_pages
    from app.admin.router import router as admin_router
    from app.board.router import router as board_router
    from app.capacity.router import router as capacity_router
    from app.errors_http import install_error_handlers
    from app.helpline.pages import router as pages_router
    from app.helpline.router import helpline_router as tickets_router
    from app.helpline.router import router as helpline_router
    from app.live_stream import router as live_router
    from app.privacy.router import pages as privacy_pages
    from app.privacy.router import router as privacy_router
    from app.reports.router import router as reports_router
    from app.shiftlead.router import router as shiftlead_router

    # telephony: Twilio's webhooks and the listener API.
    from telephony.headset_api import router as headset_router
    from telephony.headset_api import vendor_router
    from telephony.listener_api import router as listener_router
    from telephony.webhooks import router as telephony_router
    from transfers.directory.router import router as directory_router
    from transfers.fhir.router import router as fhir_router
    from transfers.notifications_router import router as notifications_router
    from transfers.partner_pages import router as partner_pages_router
    from transfers.partner_router import router as partner_router

    install_error_handlers(app)
    # Twilio's webhooks first: routes are matched in order, and a caller waits in silence for these.
    app.include_router(telephony_router)
    # Before the static mount, which would otherwise answer for /static/vendor/ too.
    app.include_router(vendor_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(ops.router)
    app.include_router(auth.router)
    app.include_router(admin_router)
    app.include_router(admin_pages)
    app.include_router(board_router)
    app.include_router(capacity_router)
    app.include_router(reports_router)
    app.include_router(shiftlead_router)
    app.include_router(helpline_router)
    app.include_router(pages_router)
    app.include_router(tickets_router)
    app.include_router(live_router)
    app.include_router(privacy_router)
    app.include_router(privacy_pages)
    app.include_router(directory_router)
    app.include_router(partner_router)
    app.include_router(fhir_router)
    app.include_router(partner_pages_router)
    app.include_router(notifications_router)
    # telephony (its webhooks are included first, above)
    app.include_router(listener_router)
    app.include_router(headset_router)
