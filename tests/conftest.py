"""Test fixtures: every database test runs on SQLite and, when OPENLINE_TEST_POSTGRES_URL is set,
on PostgreSQL. Each run builds fresh databases with the migrations; each test starts empty."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.clock import FakeClock
from app.core.db import session_scope
from app.core.security import create_user
from app.core.settings import Settings
from app.db_admin import upgrade_database_async
from app.main import create_app
from app.models import metadata

POSTGRES_URL = os.environ.get("OPENLINE_TEST_POSTGRES_URL")
PUBLIC_URL = "https://openline.example.org"
TWILIO_TOKEN = "test-twilio-auth-token-0123456789"
PASSWORD = "correct horse battery"
# The line's own number in the tests (Ofcom's range for drama): the From of every dial and text.
LINE_CALLER_ID = "+441632960000"
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="OPENLINE_TEST_POSTGRES_URL is not set (.ci/run sets it)"),
    ),
]


def test_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        environment="test",
        database_url=database_url,
        public_url=PUBLIC_URL,
        telephony="twilio",
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token=TWILIO_TOKEN,
        secret_key="test-secret-key-0123456789abcdef",
        data_key="test-data-key-0123456789abcdef",
        run_jobs=False,
        twilio_api_base="http://127.0.0.1:9",
        twilio_caller_id=LINE_CALLER_ID,
        # Tests move the clock hours and days on to reach timers, with people signed in
        # throughout; the sign-in limits themselves are tested with their real values.
        signin_idle_minutes=60 * 24 * 30,
        signin_max_hours=24 * 30,
        # Most tests take caller after caller without writing logs; the line's default (a log
        # before the next caller) is tested in tests/telephony/test_log_before_next.py.
        log_before_next_contact_types=[],
    )
    return Settings(_env_file=None, **(values | overrides))


async def _create_postgres_database() -> tuple[str, str]:
    """A database of its own for this run, so runs never see each other's rows."""
    assert POSTGRES_URL
    name = f"openline_t_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"OPENLINE_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {exc}", pytrace=False)
    finally:
        await admin.dispose()
    return _with_db(POSTGRES_URL, name), name


def _with_db(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")


async def _drop_postgres_database(name: str) -> None:
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def migrated_urls(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, str]]:
    urls: dict[str, str] = {}
    sqlite_path = tmp_path_factory.mktemp("db") / "openline.db"
    urls["sqlite"] = f"sqlite+aiosqlite:///{sqlite_path}"
    await upgrade_database_async(urls["sqlite"])
    pg_name = None
    if POSTGRES_URL:
        urls["postgres"], pg_name = await _create_postgres_database()
        await upgrade_database_async(urls["postgres"])
    yield urls
    if pg_name:
        await _drop_postgres_database(pg_name)


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, migrated_urls: dict[str, str]) -> AsyncIterator[str]:
    url = migrated_urls[request.param]
    await _empty_tables(url)
    yield url


async def _empty_tables(url: str) -> None:
    engine = create_async_engine(url)
    tables = [t.name for t in metadata.sorted_tables]
    async with engine.begin() as conn:
        if url.startswith("postgresql"):
            await conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                await conn.execute(sa.text(f'DELETE FROM "{table}"'))
    await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Harness:
    """An app on a migrated database, its fake clock, and helpers to sign people in."""

    def __init__(self, app: Any, clock: FakeClock):
        self.app = app
        self.clock = clock
        self.runtime = app.state.runtime

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=PUBLIC_URL, **kwargs)

    async def add_user(self, username: str, role: str, organisation_id: int | None = None, **extra: Any) -> Any:
        async with session_scope(self.runtime) as session:
            return await create_user(
                session, username=username, password=PASSWORD, role=role, organisation_id=organisation_id, **extra
            )

    async def signed_in(self, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
        client = self.client()
        await login(client, username, password)
        return client


async def csrf_from_page(client: httpx.AsyncClient, path: str = "/login") -> str:
    page = await client.get(path)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    token = await csrf_from_page(client)
    response = await client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    if response.status_code == 303:
        me = await client.get("/api/me")
        client.headers["X-CSRF-Token"] = me.json()["csrf_token"]
    return response


@pytest.fixture
async def make_harness(db_url: str, clock: FakeClock) -> AsyncIterator[Callable[..., Any]]:
    started: list[Any] = []

    async def make(**overrides: Any) -> Harness:
        app = create_app(test_settings(db_url, **overrides), clock=clock)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        started.append(lifespan)
        return Harness(app, clock)

    yield make
    for lifespan in reversed(started):
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def harness(make_harness: Callable[..., Any]) -> Harness:
    return await make_harness()


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with harness.client() as c:
        yield c


DEMO_DIRECTORY = Path(__file__).resolve().parents[1] / "transfers" / "demo" / "somerset.yaml"


async def load_demo_directory(harness: Harness) -> dict[str, int]:
    """The Somerset demo directory; returns organisation ids by slug."""
    from transfers.directory.importer import import_directory, parse_directory
    from transfers.directory.models import Organisation

    async with session_scope(harness.runtime) as session:
        await import_directory(session, parse_directory(DEMO_DIRECTORY.read_text()))
        rows = (await session.execute(sa.select(Organisation.slug, Organisation.id))).all()
    return {slug: id_ for slug, id_ in rows}
