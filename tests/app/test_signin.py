"""Signing in: a throttle that slows strangers without locking listeners out, and server-side
sessions that signing out, the idle timeout and an admin really end."""

import asyncio
import base64
import json

import httpx
import pytest
import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.core.security import User, UserSession
from app.core.settings import Settings
from tests.conftest import PASSWORD, PUBLIC_URL, csrf_from_page, login
from transfers.directory.models import Organisation

STRANGER = "203.0.113.66"
SAMS_DESK = "198.51.100.10"
SAMS_PHONE = "198.51.100.77"


def client_at(harness, address: str, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=harness.app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, headers=headers)


async def signed_in_at(harness, username: str, address: str, **headers: str) -> httpx.AsyncClient:
    client = client_at(harness, address, **headers)
    assert (await login(client, username)).status_code == 303
    return client


async def fail_until(harness, client, username: str, failures: int) -> None:
    """Wrong passwords until ``failures`` of them were really tried, waiting out each delay."""
    tried = 0
    while tried < failures:
        response = await login(client, username, "wrong wrong wrong")
        if response.status_code == 429:
            harness.clock.advance(seconds=int(response.headers["Retry-After"]))
            continue
        assert response.status_code == 401
        tried += 1


async def audits(harness, action: str) -> list[AuditEvent]:
    async with session_scope(harness.runtime) as session:
        return list(
            (
                await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
            ).all()
        )


async def test_a_strangers_wrong_passwords_do_not_keep_sam_out(harness):
    await harness.add_user("sam", "listener")
    await (await signed_in_at(harness, "sam", SAMS_DESK)).aclose()
    async with client_at(harness, STRANGER) as stranger:
        await fail_until(harness, stranger, "sam", 20)
        assert (await login(stranger, "sam", PASSWORD)).status_code == 429  # the stranger is slowed down
    async with client_at(harness, SAMS_DESK) as desk:
        assert (await login(desk, "sam")).status_code == 303  # at once, from the desk sam uses
    async with client_at(harness, STRANGER) as stranger:
        await fail_until(harness, stranger, "sam", 20)
    async with client_at(harness, SAMS_PHONE) as phone:
        # From an address sam never used: only the gentle account-wide delay, a minute at most.
        first = await login(phone, "sam")
        assert first.status_code == 429
        wait = int(first.headers["Retry-After"])
        assert wait <= harness.runtime.settings.login_account_max_delay_seconds == 60
        harness.clock.advance(seconds=wait)
        assert (await login(phone, "sam")).status_code == 303
    assert {e.detail["scope"] for e in await audits(harness, "sign_in_throttled")} >= {"address_and_account", "account"}


async def test_each_further_failure_waits_twice_as_long_and_waiting_does_not_add_to_it(harness):
    await harness.add_user("sam", "listener")
    async with client_at(harness, STRANGER) as client:
        await fail_until(harness, client, "sam", harness.runtime.settings.login_free_failures)
        waits = []
        for _ in range(4):
            refused = await login(client, "sam", PASSWORD)  # even the right password waits
            assert refused.status_code == 429
            assert refused.json() == {"error": "sign_in_throttled", "detail": refused.json()["detail"]}
            waits.append(int(refused.headers["Retry-After"]))
            assert (await login(client, "sam", PASSWORD)).headers["Retry-After"] == str(waits[-1])
            harness.clock.advance(seconds=waits[-1])
            assert (await login(client, "sam", "wrong wrong wrong")).status_code == 401
        assert waits == [1, 2, 4, 8]
        assert (await login(client, "sam", PASSWORD)).json()["detail"] == "too many attempts, try again in 16 seconds"
        harness.clock.advance(seconds=16)
        assert (await login(client, "sam", PASSWORD)).status_code == 303
    refusals = await audits(harness, "sign_in_throttled")
    assert len(refusals) == 9 and {e.detail["scope"] for e in refusals} == {"address_and_account"}
    assert all(PASSWORD not in json.dumps(e.detail) and e.detail["ip"] == STRANGER for e in refusals)


async def test_a_burst_of_parallel_guesses_is_counted_one_by_one(harness):
    # PostgreSQL's row lock serialises across processes; SQLite's one process, its own lock.
    await harness.add_user("sam", "listener")
    async with client_at(harness, STRANGER) as client:
        free = harness.runtime.settings.login_free_failures
        await fail_until(harness, client, "sam", free - 1)
        token = await csrf_from_page(client)
        guess = {"username": "sam", "password": "wrong wrong wrong", "csrf_token": token}
        burst = await asyncio.gather(*(client.post("/login", data=guess) for _ in range(6)))
    assert sorted(r.status_code for r in burst) == [401, 429, 429, 429, 429, 429]


async def test_the_login_page_says_how_long_to_wait(harness):
    await harness.add_user("sam", "listener")
    async with client_at(harness, STRANGER, accept="text/html") as browser:
        await fail_until(harness, browser, "sam", harness.runtime.settings.login_free_failures)
        page = await login(browser, "sam")
    assert page.status_code == 429 and page.headers["Retry-After"] == "1"
    assert "text/html" in page.headers["content-type"] and "too many attempts, try again in 1 second" in page.text


async def test_one_address_trying_many_accounts_is_slowed_down(harness):
    async with client_at(harness, STRANGER) as client:
        for n in range(harness.runtime.settings.login_address_free_failures):
            assert (await login(client, f"guess{n}", "wrong wrong wrong")).status_code == 401
        refused = await login(client, "someone-new", "wrong wrong wrong")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert (await audits(harness, "sign_in_throttled"))[0].detail["scope"] == "address"


async def test_a_supervisor_unlocks_an_account_and_it_is_audited(harness):
    sam = (await harness.add_user("sam", "listener")).id
    await harness.add_user("jo", "supervisor")
    await harness.add_user("kim", "listener")
    async with client_at(harness, SAMS_DESK) as desk:
        await fail_until(harness, desk, "sam", 12)
        assert (await login(desk, "sam")).status_code == 429
        kim = await signed_in_at(harness, "kim", SAMS_PHONE)
        assert (await kim.post(f"/api/supervisor/people/{sam}/unlock")).status_code == 403
        jo = await signed_in_at(harness, "jo", SAMS_PHONE)
        assert (await jo.post("/api/supervisor/people/9999/unlock")).status_code == 404
        assert (await jo.post(f"/api/supervisor/people/{sam}/unlock")).status_code == 204
        assert (await login(desk, "sam")).status_code == 303
    [unlock] = await audits(harness, "clear_sign_in_throttle")
    assert unlock.actor == "user:jo" and unlock.subject_id == sam
    await kim.aclose()
    await jo.aclose()


def _cookie_contents(client: httpx.AsyncClient) -> dict:
    signed = client.cookies["openline_session"]
    payload = signed.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_the_cookie_carries_only_a_session_id_kept_hashed(harness):
    await harness.add_user("sam", "listener")
    client = await signed_in_at(harness, "sam", SAMS_DESK)
    contents = _cookie_contents(client)
    assert list(contents) == ["sid"]
    async with session_scope(harness.runtime) as session:
        stored = await session.scalar(sa.select(UserSession.token_hash))
    assert stored and contents["sid"] not in stored
    await client.aclose()


async def test_signing_out_ends_the_session_so_a_copied_cookie_is_refused(harness):
    await harness.add_user("sam", "listener")
    client = await signed_in_at(harness, "sam", SAMS_DESK)
    copied = client.cookies["openline_session"]
    assert (await client.post("/logout", data={"csrf_token": client.headers["X-CSRF-Token"]})).status_code == 303
    async with client_at(harness, STRANGER) as replay:
        replay.cookies.set("openline_session", copied)
        assert (await replay.get("/api/me")).status_code == 401
        page = await replay.get("/listener")
        assert page.status_code in (302, 303, 307) and page.headers["location"].startswith("/login")
    await client.aclose()


async def test_a_session_ends_after_two_idle_hours_and_at_twelve_hours(make_harness):
    defaults = Settings.model_fields
    harness = await make_harness(
        signin_idle_minutes=defaults["signin_idle_minutes"].default,
        signin_max_hours=defaults["signin_max_hours"].default,
    )
    await harness.add_user("sam", "listener")
    client = await signed_in_at(harness, "sam", SAMS_DESK)
    harness.clock.advance(minutes=119)
    assert (await client.get("/api/me")).status_code == 200
    harness.clock.advance(minutes=119)  # counted from the last request, not the sign-in
    assert (await client.get("/api/me")).status_code == 200
    harness.clock.advance(minutes=121)
    assert (await client.get("/api/me")).status_code == 401
    busy = await signed_in_at(harness, "sam", SAMS_DESK)
    for _ in range(11):
        harness.clock.advance(hours=1)
        assert (await busy.get("/api/me")).status_code == 200
    harness.clock.advance(hours=1)
    assert (await busy.get("/api/me")).status_code == 401
    await client.aclose()
    await busy.aclose()


async def test_an_admin_sees_and_ends_someones_sessions(harness):
    await harness.add_user("admin", "admin")
    await harness.add_user("sam", "listener")
    admin = await signed_in_at(harness, "admin", SAMS_PHONE)
    desk = await signed_in_at(harness, "sam", SAMS_DESK, **{"user-agent": "desk browser"})
    harness.clock.advance(minutes=5)
    laptop = await signed_in_at(harness, "sam", STRANGER, **{"user-agent": "laptop browser"})
    sam_id = (await desk.get("/api/me")).json()["id"]
    listed = (await admin.get(f"/api/admin/users/{sam_id}/sessions")).json()
    assert [(s["ip"], s["user_agent"]) for s in listed] == [(STRANGER, "laptop browser"), (SAMS_DESK, "desk browser")]
    assert listed[1]["created_at"] < listed[0]["created_at"] and "token_hash" not in listed[0]
    admin_id = (await admin.get("/api/me")).json()["id"]
    admins_own = (await admin.get(f"/api/admin/users/{admin_id}/sessions")).json()[0]["id"]
    assert (await admin.delete(f"/api/admin/users/{sam_id}/sessions/{admins_own}")).status_code == 404
    assert (await admin.delete(f"/api/admin/users/{sam_id}/sessions/{listed[0]['id']}")).status_code == 204
    assert (await laptop.get("/api/me")).status_code == 401
    assert (await desk.get("/api/me")).status_code == 200
    assert (await admin.delete(f"/api/admin/users/{sam_id}/sessions")).status_code == 204
    assert (await desk.get("/api/me")).status_code == 401 and (await admin.get("/api/me")).status_code == 200
    ended = await audits(harness, "end_user_sessions")
    assert [(e.actor, e.subject_id, e.detail["ended"]) for e in ended] == [
        ("user:admin", sam_id, 1),
        ("user:admin", sam_id, 1),
    ]
    for client in (admin, desk, laptop):
        await client.aclose()


@pytest.mark.parametrize("role", ["supervisor", "listener", "partner"])
async def test_nobody_but_an_admin_sees_or_ends_sessions(harness, role):
    async with session_scope(harness.runtime) as session:
        now = harness.clock.now()
        org = Organisation(slug="mind", name="Mind", created_at=now, updated_at=now)
        session.add(org)
        await session.flush()
        org_id = org.id
    await harness.add_user("sam", "listener")
    await harness.add_user("someone", role, organisation_id=org_id if role == "partner" else None)
    client = await signed_in_at(harness, "someone", SAMS_PHONE)
    sam = await signed_in_at(harness, "sam", SAMS_DESK)
    sam_id = (await sam.get("/api/me")).json()["id"]
    assert (await client.get(f"/api/admin/users/{sam_id}/sessions")).status_code == 403
    assert (await client.delete(f"/api/admin/users/{sam_id}/sessions")).status_code == 403
    assert (await sam.get("/api/me")).status_code == 200
    await client.aclose()
    await sam.aclose()


async def test_an_unknown_person_has_no_sessions_to_see(harness):
    await harness.add_user("admin", "admin")
    admin = await signed_in_at(harness, "admin", SAMS_PHONE)
    assert (await admin.get("/api/admin/users/9999/sessions")).status_code == 404
    assert (await admin.delete("/api/admin/users/9999/sessions")).status_code == 404
    await admin.aclose()


async def test_a_deactivated_persons_sessions_end(harness):
    await harness.add_user("sam", "listener")
    client = await signed_in_at(harness, "sam", SAMS_DESK)
    async with session_scope(harness.runtime) as session:
        await session.execute(sa.update(User).where(User.username == "sam").values(is_active=False))
    assert (await client.get("/api/me")).status_code == 401
    async with session_scope(harness.runtime) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 0
    await client.aclose()


async def test_the_csrf_token_belongs_to_one_session(harness):
    await harness.add_user("sam", "listener")
    desk = await signed_in_at(harness, "sam", SAMS_DESK)
    laptop = await signed_in_at(harness, "sam", STRANGER)
    assert desk.headers["X-CSRF-Token"] != laptop.headers["X-CSRF-Token"]
    refused = await desk.post("/logout", headers={"X-CSRF-Token": laptop.headers["X-CSRF-Token"]})
    assert refused.status_code == 403 and (await desk.get("/api/me")).status_code == 200
    await desk.aclose()
    await laptop.aclose()
