"""The steps many tests share, driven through the real API and the simulator: a listener takes a
caller, a session is logged with the caller's consent, a warm transfer is made, a voicemail is
claimed; and the app's /api routes as served. Test modules import them from here, never from one
another."""

from __future__ import annotations

import base64
import json
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from app.core.db import session_scope
from app.core.jobs import run_due_jobs
from app.helpline.sessions import start_session
from tests.conftest import load_demo_directory
from tests.telephony.conftest import listener
from transfers.directory.models import Service

CALLER_NUMBER = "+447700900321"  # the caller who rings the line
TRANSFER_NUMBER = "+447700900123"  # the number a caller gives for a warm transfer

# A call log that records the caller's consent to share: what a warm transfer needs.
GOOD = {
    "contact_type": "support",
    "needs": ["money", "housing"],
    "risk_level": "low",
    "consent_to_share": True,
    "consent_covers": "needs, summary and number",
    "title": "Rent arrears worry",
    "summary": "Behind on rent since May",
    "outcome": "warm-transfer",
}
CRISIS_LOG = GOOD | {"needs": ["crisis", "distress"], "title": "Crisis tonight", "risk_level": "high"}


async def take_call(client: Any) -> Any:
    response = await client.post("/api/listener/calls/next")
    assert response.status_code == 200, response.text
    return response.json()


async def answered(harness: Any, sim: Any, client: Any, number: str = CALLER_NUMBER) -> tuple[Any, Any]:
    """A caller rings, waits 20 s and is taken by the signed-in listener; their call card."""
    caller = sim.caller(number)
    await caller.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=20)
    await take_call(client)
    await sim.deliver()
    card = await client.get("/api/listener/sessions/current")
    assert card.status_code == 200, card.text
    return caller, card.json()


async def survey_consent(client: Any, session_id: int, consent: str) -> Any:
    """The listener records whether the caller agreed to the survey after the call, and how."""
    return await client.put(f"/api/listener/sessions/{session_id}/survey", json={"survey": consent})


async def survey_agreed(harness: Any, sim: Any, consent: str, number: str = CALLER_NUMBER, username: str = "sam"):
    """A listener on a call whose caller agreed to the survey by ``consent``: (client, caller, card)."""
    _, client = await listener(harness, username, display_name=username.title())
    caller, card = await answered(harness, sim, client, number=number)
    answer = await survey_consent(client, card["id"], consent)
    assert answer.status_code == 200, answer.text
    return client, caller, card


async def end_own_call(sim: Any, client: Any) -> None:
    """The listener presses the end button on their page."""
    ended = await client.post("/api/listener/calls/current/end")
    assert ended.status_code == 200, ended.text
    await sim.deliver()


async def hang_up(sim: Any, caller: Any) -> None:
    await caller.hang_up()
    await sim.deliver()


def conference_of(sim: Any, caller: Any) -> Any:
    """The simulator's conference the caller is in."""
    return next(room for room in sim.conferences.values() if caller.call.sid in room.participants)


def listener_leg(sim: Any, caller: Any) -> Any:
    """The listener's leg in the caller's conference."""
    room = conference_of(sim, caller)
    return next(sim.calls[sid] for sid, p in room.participants.items() if p.label == "listener")


def claims_of(jwt: str) -> dict:
    """The claims of a Twilio access token (read, not verified)."""
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def on_the_line(harness: Any, sim: Any) -> tuple[Any, Any, Any, Any, Any]:
    """Sam on a call with a caller in crisis, logged with consent; the Mind safe space's id."""
    organisations = await load_demo_directory(harness)
    _, client = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, client)
    assert (await client.post(f"/api/listener/sessions/{card['id']}/log", json=CRISIS_LOG)).status_code == 201
    safe_space = await service_id(harness, "mind-safe-space")
    return organisations, client, caller, card, safe_space


async def service_id(harness: Any, slug: str) -> Any:
    async with session_scope(harness.runtime) as session:
        return await session.scalar(sa.select(Service.id).where(Service.slug == slug))


async def logged_session(harness: Any, username: str = "sam", log: Any = GOOD) -> tuple[int, Any]:
    """A listener with a running session whose log records the caller's consent."""
    user = await harness.add_user(username, "listener", display_name=username.title())
    async with session_scope(harness.runtime) as session:
        support = await start_session(session, call_id=None, listener_id=user.id, started_at=harness.clock.now())
    client = await harness.signed_in(username)
    if log is not None:
        assert (await client.post(f"/api/listener/sessions/{support.id}/log", json=log)).status_code == 201
    return support.id, client


async def partner(harness: Any, organisations: Any, slug: str = "citizens-advice", username: str = "ca-worker") -> Any:
    await harness.add_user(username, "partner", organisation_id=organisations[slug])
    return await harness.signed_in(username)


async def transfer(client: Any, session_id: int, service: Any, **extra: Any) -> Any:
    body = {
        "service_id": service,
        "contact_number": TRANSFER_NUMBER,
        "preferred_times": "evenings after 6",
        "caller_name": "Jamie",
    } | extra
    return await client.post(f"/api/listener/sessions/{session_id}/transfers", json=body)


async def voicemail_claimed(harness: Any, sim: Any, number: str = CALLER_NUMBER, username: str = "sam") -> tuple:
    """A caller overflows to voicemail and leaves a message; a listener claims the callback."""
    caller = sim.caller(number)
    await caller.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=harness.runtime.settings.max_wait_seconds + 1)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    await caller.leave_message(seconds=20)
    await sim.deliver()
    user, client = await listener(harness, username, display_name=username.title())
    [callback] = (await client.get("/api/listener/callbacks")).json()
    assert (await client.post(f"/api/listener/callbacks/{callback['id']}/claim")).status_code == 200
    return user, client, callback["id"]


def api_routes(app: FastAPI) -> list[RouteContext]:
    """Every /api route as it is served: included routers expanded, their prefixes and dependencies applied."""
    return [
        route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and route.path.startswith("/api/")
    ]


def fhir_routes(app: FastAPI) -> list[RouteContext]:
    """Every /fhir route as it is served (FHIR resources and OperationOutcomes, not /api's JSON)."""
    return [
        route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and route.path.startswith("/fhir/")
    ]


async def overflowed_caller(harness: Any, sim: Any) -> Any:
    """A caller who waited past the longest wait and was sent to voicemail."""
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=harness.runtime.settings.max_wait_seconds + 1)
    assert await run_due_jobs(harness.runtime) >= 1
    await sim.deliver()
    return caller


async def on_a_call(harness: Any, sim: Any) -> tuple[Any, Any, Any, Any]:
    """Sam on a call with a caller, and Jo the supervisor signed in: (caller, card, sam, jo)."""
    await harness.add_user("jo", "supervisor", display_name="Jo")
    _, sam = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, sam)
    return caller, card, sam, await harness.signed_in("jo")


async def settled_live_events(harness: Any, audiences: list[str], after: Any = 0, *, at_least: int = 1) -> list[Any]:
    """The live events a stream would send now, once there are ``at_least``. On PostgreSQL a
    committed event waits until every older transaction on the server has finished (see
    app.core.events), a moment longer when other databases on the server are busy: bounded."""
    import asyncio

    from app.core.events import read_live_events

    events: list[Any] = []
    for _ in range(400):
        async with harness.runtime.sessionmaker() as session:
            events = await read_live_events(session, audiences, after)
        if len(events) >= at_least:
            break
        await asyncio.sleep(0.025)
    return events
