"""A listener's desk phone or SIP address: set by an admin (audited) or the CLI, validated, and
then what Openline rings instead of the browser headset."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import cli
from app.core.audit import list_audit
from app.core.db import session_scope
from app.core.security import User


async def test_an_admin_sets_and_clears_a_listeners_desk_phone_and_it_is_audited(harness):
    await harness.add_user("admin", "admin")
    sam = await harness.add_user("sam", "listener")
    admin = await harness.signed_in("admin")
    changed = await admin.put(f"/api/admin/users/{sam.id}/dial-address", json={"dial_address": "+44 1632 960 123"})
    assert changed.status_code == 200 and changed.json()["dial_address"] == "+441632960123"
    sip = await admin.put(f"/api/admin/users/{sam.id}/dial-address", json={"dial_address": "sip:sam@desk.example.org"})
    assert sip.json()["dial_address"] == "sip:sam@desk.example.org"
    listener = await harness.signed_in("sam")
    assert (await listener.get("/api/listener/headset")).json()["kind"] == "desk"
    cleared = await admin.put(f"/api/admin/users/{sam.id}/dial-address", json={"dial_address": None})
    assert cleared.json()["dial_address"] is None
    assert (await listener.get("/api/listener/headset")).json()["kind"] == "unavailable"
    async with session_scope(harness.runtime) as session:
        trail = await list_audit(session, "user", sam.id)
    assert [(e.action, e.actor, e.detail["has_address"]) for e in trail] == [
        ("change_dial_address", "user:admin", True),
        ("change_dial_address", "user:admin", True),
        ("change_dial_address", "user:admin", False),
    ]


@pytest.mark.parametrize(
    "address",
    [
        "01632 960123",
        "+0441632960123",
        "+44",
        "sip:nohost",
        "tel:+441632960123",
        "sip:sam@desk example",
        "+44163296012345678",
    ],
)
async def test_a_dial_address_that_twilio_could_not_ring_is_refused(harness, address):
    await harness.add_user("admin", "admin")
    sam = await harness.add_user("sam", "listener")
    admin = await harness.signed_in("admin")
    refused = await admin.put(f"/api/admin/users/{sam.id}/dial-address", json={"dial_address": address})
    assert refused.status_code == 422
    assert refused.json()["error"] == "invalid" and refused.json()["detail"][0]["field"] == "dial_address"
    created = await admin.post(
        "/api/admin/users",
        json={"username": "kim", "password": "long enough pw", "role": "listener", "dial_address": address},
    )
    assert created.status_code == 422


@pytest.mark.parametrize("role", ["supervisor", "listener", "partner"])
async def test_only_admins_change_where_a_listener_rings(harness, role):
    from tests.conftest import load_demo_directory

    orgs = await load_demo_directory(harness) if role == "partner" else {}
    await harness.add_user("someone", role, organisation_id=next(iter(orgs.values()), None))
    sam = await harness.add_user("sam", "listener")
    client = await harness.signed_in("someone")
    refused = await client.put(f"/api/admin/users/{sam.id}/dial-address", json={"dial_address": "+441632960123"})
    assert refused.status_code == 403
    async with session_scope(harness.runtime) as session:
        assert (await session.get(User, sam.id)).dial_address is None


async def test_an_unknown_user_is_a_404(harness):
    await harness.add_user("admin", "admin")
    admin = await harness.signed_in("admin")
    missing = await admin.put("/api/admin/users/9999/dial-address", json={"dial_address": "+441632960123"})
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_cli_adds_a_listener_with_a_desk_phone_and_changes_it(harness, db_url, monkeypatch):
    monkeypatch.setenv("OPENLINE_DATABASE_URL", db_url)
    monkeypatch.setenv("OPENLINE_ENVIRONMENT", "development")
    runner = CliRunner()

    def run(*args: str):
        # The CLI runs its own event loop: in a thread beside the test's.
        return asyncio.to_thread(runner.invoke, cli, list(args))

    added = await run(
        "user", "add", "pat", "--role", "listener", "--password", "long enough pw", "--dial-address", "+441632960999"
    )
    assert added.exit_code == 0, added.output
    bad = await run("user", "dial-address", "pat", "07700 900999")
    assert bad.exit_code == 1 and "international form" in bad.output
    moved = await run("user", "dial-address", "pat", "sip:pat@desk.example.org")
    assert moved.exit_code == 0 and "sip:pat@desk.example.org" in moved.output
    cleared = await run("user", "dial-address", "pat", "--clear")
    assert cleared.exit_code == 0 and "browser headset" in cleared.output
    async with session_scope(harness.runtime) as session:
        pat = await session.scalar(sa.select(User).where(User.username == "pat"))
    assert pat.dial_address is None
