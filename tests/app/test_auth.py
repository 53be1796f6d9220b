import pytest
import sqlalchemy as sa

from app.core.db import session_scope
from app.core.security import ApiKey, User, create_api_key
from tests.conftest import PASSWORD, csrf_from_page, login
from transfers.directory.models import Organisation


async def _organisation(harness, slug: str) -> int:
    async with session_scope(harness.runtime) as session:
        now = harness.clock.now()
        org = Organisation(slug=slug, name=slug.title(), created_at=now, updated_at=now)
        session.add(org)
        await session.flush()
        return org.id


async def test_login_sets_an_httponly_samesite_cookie_and_lands_by_role(harness, client):
    await harness.add_user("sam", "listener")
    response = await login(client, "sam")
    assert response.status_code == 303 and response.headers["location"] == "/listener"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    me = (await client.get("/api/me")).json()
    assert me["username"] == "sam" and me["role"] == "listener"


async def test_password_is_stored_as_argon2(harness):
    await harness.add_user("sam", "listener")
    async with session_scope(harness.runtime) as session:
        stored = await session.scalar(sa.select(User.password_hash).where(User.username == "sam"))
    assert stored.startswith("$argon2") and PASSWORD not in stored


async def test_wrong_password_is_refused_without_saying_which_part(harness, client):
    await harness.add_user("sam", "listener")
    wrong_password = await login(client, "sam", "not the password")
    unknown_user = await login(client, "nobody", "not the password")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert "wrong username or password" in wrong_password.text and "wrong username or password" in unknown_user.text
    assert (await client.get("/api/me")).status_code == 401


async def test_login_form_needs_the_csrf_token(harness, client):
    await harness.add_user("sam", "listener")
    await csrf_from_page(client)
    response = await client.post("/login", data={"username": "sam", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 403 and (await client.get("/api/me")).status_code == 401


async def test_state_changing_requests_need_the_csrf_token(harness):
    await harness.add_user("admin", "admin")
    client = await harness.signed_in("admin")
    spec = {"slug": "ca", "name": "Citizens Advice"}
    token = client.headers.pop("X-CSRF-Token")
    refused = await client.post("/api/directory/organisations", json=spec)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
    forged = await client.post("/api/directory/organisations", json=spec, headers={"X-CSRF-Token": "x" * 43})
    assert forged.status_code == 403
    accepted = await client.post("/api/directory/organisations", json=spec, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 201
    assert len((await client.get("/api/directory/organisations")).json()) == 1


async def test_logout_ends_the_session(harness):
    await harness.add_user("sam", "listener")
    client = await harness.signed_in("sam")
    response = await client.post("/logout", data={"csrf_token": client.headers["X-CSRF-Token"]})
    assert response.status_code == 303 and (await client.get("/api/me")).status_code == 401


@pytest.mark.parametrize(
    "role,allowed", [("admin", True), ("supervisor", False), ("listener", False), ("partner", False)]
)
async def test_only_admins_change_the_directory(harness, role, allowed):
    org_id = await _organisation(harness, "mind")
    await harness.add_user("someone", role, organisation_id=org_id if role == "partner" else None)
    client = await harness.signed_in("someone")
    response = await client.post("/api/directory/organisations", json={"slug": "new-org", "name": "New"})
    assert response.status_code == (201 if allowed else 403)


async def test_admin_creates_users_and_bad_input_is_a_clear_4xx(harness):
    org_id = await _organisation(harness, "mind")
    await harness.add_user("admin", "admin")
    client = await harness.signed_in("admin")
    created = await client.post(
        "/api/admin/users",
        json={"username": "Pat", "password": "long enough pw", "role": "partner", "organisation_id": org_id},
    )
    assert created.status_code == 201 and created.json()["username"] == "pat"
    duplicate = await client.post(
        "/api/admin/users", json={"username": "pat", "password": "long enough pw", "role": "listener"}
    )
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "duplicate_username"
    unknown_role = await client.post(
        "/api/admin/users", json={"username": "kim", "password": "long enough pw", "role": "boss"}
    )
    assert unknown_role.status_code == 422 and unknown_role.json()["detail"][0]["field"] == "role"
    partner_without_org = await client.post(
        "/api/admin/users", json={"username": "kim", "password": "long enough pw", "role": "partner"}
    )
    assert partner_without_org.status_code == 422
    missing_org = await client.post(
        "/api/admin/users",
        json={"username": "kim", "password": "long enough pw", "role": "partner", "organisation_id": 999},
    )
    assert missing_org.status_code == 404


async def test_api_key_is_shown_once_and_stored_hashed(harness):
    org_id = await _organisation(harness, "mind")
    await harness.add_user("admin", "admin")
    client = await harness.signed_in("admin")
    issued = await client.post(f"/api/admin/organisations/{org_id}/api-keys", json={"name": "case system"})
    assert issued.status_code == 201
    plaintext = issued.json()["key"]
    async with session_scope(harness.runtime) as session:
        stored = await session.scalar(sa.select(ApiKey))
    assert plaintext.split("_", 2)[2] not in stored.secret_hash and stored.organisation_id == org_id


async def test_expired_and_revoked_keys_are_refused(harness):
    from datetime import timedelta

    org_id = await _organisation(harness, "mind")
    async with session_scope(harness.runtime) as session:
        soon = await create_api_key(
            session, organisation_id=org_id, name="x", expires_at=harness.clock.now() + timedelta(hours=1)
        )
    async with harness.client() as client:
        headers = {"Authorization": f"Bearer {soon.plaintext}"}
        assert (await client.get("/api/partner/v1/services", headers=headers)).status_code == 200
        harness.clock.advance(hours=2)
        expired = await client.get("/api/partner/v1/services", headers=headers)
        assert expired.status_code == 401 and expired.json()["error"] == "expired_api_key"
        wrong = await client.get("/api/partner/v1/services", headers={"Authorization": "Bearer olk_abc_def"})
        assert wrong.status_code == 401
