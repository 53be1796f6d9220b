"""Telephony fixtures: a simulated Twilio wired to the harness's app, in-process both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app.core.db import session_scope
from telephony.models import Call, CallbackRequest, ListenerPresence, WebhookDelivery
from telephony.simulator import Simulator, connect


def simulator_for(harness: Any, **kwargs: Any) -> Simulator:
    options = {"seed": 7, "webhook_transport": httpx.ASGITransport(app=harness.app)} | kwargs
    sim = Simulator.from_settings(harness.runtime.settings, clock=harness.clock, **options)
    connect(harness.runtime, sim)
    return sim


@pytest.fixture
async def sim(harness: Any) -> AsyncIterator[Simulator]:
    simulator = simulator_for(harness)
    yield simulator
    await simulator.close()


async def rows(harness: Any, model: Any, *where: Any) -> list[Any]:
    async with session_scope(harness.runtime) as session:
        return list((await session.scalars(sa.select(model).where(*where).order_by(sa.text("1")))).all())


async def calls(harness: Any) -> list[Call]:
    return await rows(harness, Call)


async def deliveries(harness: Any) -> list[WebhookDelivery]:
    return await rows(harness, WebhookDelivery)


async def callbacks(harness: Any) -> list[CallbackRequest]:
    return await rows(harness, CallbackRequest)


async def presence_of(harness: Any, user_id: int) -> ListenerPresence | None:
    async with session_scope(harness.runtime) as session:
        return await session.get(ListenerPresence, user_id)


async def listener(harness: Any, username: str = "sam", **extra: Any) -> tuple[Any, httpx.AsyncClient]:
    user = await harness.add_user(username, "listener", **extra)
    return user, await harness.signed_in(username)


TELEPHONY_EVENTS = (
    "call.waiting",
    "call.claimed",
    "call.answered",
    "call.ended",
    "participant.joined",
    "participant.left",
    "callback.requested",
)


@pytest.fixture
def published(harness: Any) -> list[tuple[str, dict[str, Any]]]:
    """Domain events telephony published (after commit), in order."""
    seen: list[tuple[str, dict[str, Any]]] = []

    async def record(_runtime: Any, event: Any) -> None:
        seen.append((event.name, event.payload))

    for name in TELEPHONY_EVENTS:
        harness.runtime.bus.subscribe(name, record)
    return seen


def signed_post(client: httpx.AsyncClient, sim: Simulator, path: str, params: dict[str, str], **headers: str) -> Any:
    """Post ``params`` to a webhook path, signed as Twilio would sign it."""
    url = sim.public_url + path
    return client.post(path, data=params, headers={"X-Twilio-Signature": sim.sign(url, params), **headers})
