"""The live stream (``/api/live``) over real HTTP: in order, only one's own, resumed after a drop,
and on PostgreSQL carried from one server process to another."""

from __future__ import annotations

import httpx
import pytest

from app.core.db import session_scope
from app.core.events import publish_live
from tests.conftest import BACKENDS, PASSWORD, load_demo_directory, login
from tests.conftest import test_settings as settings_for
from tests.scenarios import settled_live_events
from tests.servers import EventReader, server_process, serving

# The reads wait as long as EventReader.next allows (its own timeout says what was missed);
# httpx's 5 s default would fail a stream that is merely slow on a loaded machine.
STREAM_TIMEOUT = httpx.Timeout(5.0, read=30.0)


async def publish(harness, *events: tuple[str, str, dict]) -> None:
    async with session_scope(harness.runtime) as session:
        for audience, type_, data in events:
            await publish_live(session, audience, type_, data)


def session_cookie(client: httpx.AsyncClient) -> dict[str, str]:
    return {"Cookie": f"openline_session={client.cookies['openline_session']}"}


async def test_a_listener_receives_their_own_and_their_roles_events_in_order(harness):
    sam = await harness.add_user("sam", "listener")
    alex = await harness.add_user("alex", "listener")
    signed_in = await harness.signed_in("sam")
    async with serving(harness.app) as base, httpx.AsyncClient(base_url=base, timeout=STREAM_TIMEOUT) as http:
        async with http.stream("GET", "/api/live", headers=session_cookie(signed_in)) as stream:
            live = EventReader(stream)
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            [hello] = await live.next(1)
            assert hello.event == "hello"
            await publish(
                harness,
                (f"user:{alex.id}", "session.started", {"for": "alex"}),
                (f"user:{sam.id}", "session.started", {"n": 1}),
                ("role:listener", "queue", {"waiting": 2}),
                ("role:supervisor", "risk.immediate", {"n": 0}),
                (f"user:{sam.id}", "session.warning", {"n": 3}),
            )
            events = await live.next(3)
    assert [(e.event, e.data) for e in events] == [
        ("session.started", {"n": 1}),
        ("queue", {"waiting": 2}),
        ("session.warning", {"n": 3}),
    ]
    ids = [int(e.id) for e in events]
    assert ids == sorted(ids) and ids[0] > int(hello.id)


async def test_a_reconnect_with_last_event_id_misses_nothing(harness):
    sam = await harness.add_user("sam", "listener")
    signed_in = await harness.signed_in("sam")
    async with (
        serving(harness.app) as base,
        httpx.AsyncClient(base_url=base, headers=session_cookie(signed_in), timeout=STREAM_TIMEOUT) as http,
    ):
        async with http.stream("GET", "/api/live") as stream:
            live = EventReader(stream)
            [hello] = await live.next(1)
            await publish(harness, (f"user:{sam.id}", "session.started", {"n": 1}))
            [first] = await live.next(1)
        # Wi-Fi drops; meanwhile the timer warns and the queue grows.
        await publish(harness, (f"user:{sam.id}", "session.warning", {"n": 2}), ("role:listener", "queue", {"n": 3}))
        async with http.stream("GET", "/api/live", headers={"Last-Event-ID": first.id}) as stream:
            live = EventReader(stream)
            missed = await live.next(2)
        assert [e.data["n"] for e in missed] == [2, 3]
        assert all(e.event != "hello" for e in missed)
        # A reconnect from before the first event replays everything after it, once.
        async with http.stream("GET", f"/api/live?after={hello.id}") as stream:
            live = EventReader(stream)
            replayed = await live.next(3)
        assert [e.data["n"] for e in replayed] == [1, 2, 3]


async def test_signing_out_ends_an_open_stream(harness):
    """A stream opened before signing out (a copied cookie, a forgotten tab) stops carrying the
    person's events once their session has ended on the server."""
    sam = await harness.add_user("sam", "listener")
    signed_in = await harness.signed_in("sam")
    async with (
        serving(harness.app) as base,
        httpx.AsyncClient(base_url=base, headers=session_cookie(signed_in), timeout=STREAM_TIMEOUT) as http,
    ):
        async with http.stream("GET", "/api/live") as stream:
            live = EventReader(stream)
            await live.next(1)  # hello
            await publish(harness, (f"user:{sam.id}", "session.started", {"n": 1}))
            assert [e.data["n"] for e in await live.next(1)] == [1]
            assert (await signed_in.post("/logout")).status_code in (200, 303)
            harness.clock.advance(seconds=16)
            await publish(harness, (f"user:{sam.id}", "session.warning", {"n": 2}))
            assert await live.next(1, timeout=5) == []  # the stream has ended: nothing more arrives


async def test_the_stream_needs_a_signed_in_person(harness):
    async with harness.client() as client:
        response = await client.get("/api/live")
    assert response.status_code == 401
    assert response.json()["error"]


async def test_a_partner_receives_their_organisations_events_only(harness):
    organisations = await load_demo_directory(harness)
    ca, mind = organisations["citizens-advice"], organisations["mind-in-somerset"]
    await harness.add_user("ca-worker", "partner", organisation_id=ca)
    signed_in = await harness.signed_in("ca-worker")
    async with serving(harness.app) as base, httpx.AsyncClient(base_url=base, timeout=STREAM_TIMEOUT) as http:
        async with http.stream("GET", "/api/live", headers=session_cookie(signed_in)) as stream:
            live = EventReader(stream)
            await live.next(1)
            await publish(
                harness,
                (f"org:{mind}", "ticket.created", {"ticket": 1}),
                ("role:listener", "queue", {"waiting": 1}),
                (f"org:{ca}", "ticket.created", {"ticket": 2}),
            )
            [event] = await live.next(1)
    assert (event.event, event.data) == ("ticket.created", {"ticket": 2})


@pytest.mark.parametrize("db_url", [BACKENDS[1]], indirect=True)
async def test_an_event_made_in_one_server_process_reaches_a_stream_on_another(harness, db_url):
    """Two `openline serve` processes on one PostgreSQL: a listener changes presence through one, a
    supervisor's dashboard connected to the other sees it (LISTEN/NOTIFY), with no polling delay
    to hide behind (the idle re-read is 15 s; the read times out well before that)."""
    await harness.add_user("sam", "listener")
    await harness.add_user("jo", "supervisor")
    settings = settings_for(db_url)
    env = {
        "OPENLINE_DATABASE_URL": db_url,
        "OPENLINE_ENVIRONMENT": "test",
        "OPENLINE_PUBLIC_URL": "http://127.0.0.1",
        "OPENLINE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "OPENLINE_DATA_KEY": settings.data_key.get_secret_value(),
        "OPENLINE_TELEPHONY": "twilio",
        "OPENLINE_TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "OPENLINE_TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
        "OPENLINE_TWILIO_CALLER_ID": settings.twilio_caller_id,
        "OPENLINE_RUN_JOBS": "false",
        "OPENLINE_LOG_LEVEL": "WARNING",
    }
    async with server_process(env) as first, server_process(env) as second:
        async with httpx.AsyncClient(base_url=first) as listener, httpx.AsyncClient(base_url=second) as supervisor:
            assert (await login(listener, "sam", PASSWORD)).status_code == 303
            assert (await login(supervisor, "jo", PASSWORD)).status_code == 303
            async with supervisor.stream("GET", "/api/live") as stream:
                live = EventReader(stream)
                await live.next(1)
                changed = await listener.put("/api/listener/presence", json={"status": "available"})
                assert changed.status_code == 200, changed.text
                [event] = await live.next(1, timeout=8, skip=("queue", "callbacks"))
    assert event.event == "presence" and event.data["status"] == "available"


@pytest.mark.parametrize("db_url", [BACKENDS[1]], indirect=True)
async def test_the_notify_listener_reconnects_after_losing_its_connection(harness, db_url):
    """PostgreSQL restarted or the network blipped: the process listens again, so dashboards go
    on being woken by other processes' commits."""
    import asyncio

    import asyncpg

    listener = harness.runtime.extras["live_listener"]
    dsn = db_url.replace("+asyncpg", "")
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", listener._conn.get_server_pid())
        for _ in range(100):  # a real reconnect over the network: bounded
            if listener.connections == 2:
                break
            await asyncio.sleep(0.05)
        assert listener.connections == 2
        await listener._reconnecting  # its own wake-ups done: what follows is the notification's
        seen = harness.runtime.bus.live_version
        await admin.execute("SELECT pg_notify('openline_live', '1')")  # a commit in another process
        assert await harness.runtime.bus.wait_for_live(seen, timeout=5) > seen
    finally:
        await admin.close()


@pytest.mark.parametrize("db_url", [BACKENDS[1]], indirect=True)
async def test_an_event_committed_late_is_not_skipped_by_a_stream_that_saw_a_later_one(harness, db_url):
    """Without a global lock, ids are handed out at INSERT and seen at COMMIT: the transaction
    holding the lower id commits second. A reader that passed the higher id would never see it; the
    stream holds the later event back until the earlier transaction has finished, then sends both."""
    from app.core.events import LivePosition, live_events_held_back, read_live_events

    runtime = harness.runtime
    async with runtime.sessionmaker() as reader:
        start = LivePosition(0, 0)
        async with runtime.sessionmaker() as slow, runtime.sessionmaker() as quick:
            await publish_live(slow, "all", "first", {"n": 1})
            await publish_live(quick, "all", "second", {"n": 2})
            await quick.commit()
            assert await read_live_events(reader, ["all"], start) == []  # held back, not passed
            assert await live_events_held_back(reader, start)
            await slow.commit()
    events = await settled_live_events(harness, ["all"], start, at_least=2)
    assert [e.type for e in events] == ["first", "second"]
