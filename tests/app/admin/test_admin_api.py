"""The admin API on both databases: every route refuses non-admins (403), bad input is a 4xx
naming its field with nothing written, and every change leaves an audit row saying who."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.core.security import User, create_api_key
from tests.conftest import PASSWORD, load_demo_directory, login
from tests.scenarios import api_routes
from transfers.tickets.models import PartnerNotification


async def _audit(harness, action: str) -> list[AuditEvent]:
    async with session_scope(harness.runtime) as session:
        return list((await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action))).all())


@pytest.fixture
async def admin(harness):
    await harness.add_user("root", "admin")
    return await harness.signed_in("root")


def _admin_routes(app) -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for route in api_routes(app)
        if route.path.startswith("/api/admin/")
        for method in route.methods
    )


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "money" if m.group(1) == "slug" else "1", path)


@pytest.mark.parametrize("role", ["listener", "supervisor", "partner"])
async def test_every_admin_route_is_403_for_everyone_else(harness, role):
    organisations = await load_demo_directory(harness)
    org = organisations["citizens-advice"] if role == "partner" else None
    await harness.add_user("someone", role, organisation_id=org)
    client = await harness.signed_in("someone")
    routes = _admin_routes(harness.app)
    assert len(routes) >= 20
    for method, path in routes:
        response = await client.request(method, _url(path), json={})
        assert response.status_code == 403, (method, path, response.text)
    # A partner system's API key is not an admin either: 401 (it is no signed-in person).
    async with session_scope(harness.runtime) as session:
        issued = await create_api_key(session, organisation_id=organisations["citizens-advice"], name="case system")
    async with harness.client(headers={"Authorization": f"Bearer {issued.plaintext}"}) as system:
        for method, path in routes:
            assert (await system.request(method, _url(path), json={})).status_code == 401, (method, path)
    # ...and a stranger is 401 (the page sends them to sign in).
    async with harness.client() as stranger:
        assert (await stranger.get("/api/admin/users")).status_code == 401
        page = await stranger.get("/admin")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/admin"
    assert (await client.get("/admin")).status_code == 403


async def test_adding_a_person_shows_a_made_password_once_and_audits_who(harness, admin):
    added = await admin.post(
        "/api/admin/users", json={"username": "Kim", "role": "listener", "display_name": "Kim Lee"}
    )
    assert added.status_code == 201, added.text
    made = added.json()["password"]
    assert made and len(made) >= 16 and added.json()["username"] == "kim"
    async with harness.client() as kim:
        assert (await login(kim, "kim", made)).headers["location"] == "/listener"
    listed = (await admin.get("/api/admin/users")).json()
    assert {p["username"] for p in listed} == {"root", "kim"} and all("password" not in p for p in listed)
    [event] = await _audit(harness, "add_person")
    assert event.actor == "user:root" and event.detail["username"] == "kim" and made not in str(event.detail)
    # A password the admin sets is not echoed.
    set_one = await admin.post("/api/admin/users", json={"username": "lee", "role": "listener", "password": PASSWORD})
    assert set_one.status_code == 201 and set_one.json()["password"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "", "role": "listener"}, "username"),
        ({"username": "x", "role": "boss"}, "role"),
        ({"username": "x", "role": "listener", "password": "short"}, "password"),
        ({"username": "x", "role": "partner"}, "organisation"),
        ({"username": "x", "role": "listener", "dial_address": "my desk"}, "dial_address"),
        ({"username": "x", "role": "listener", "surprise": 1}, "surprise"),
    ],
)
async def test_bad_people_are_422_naming_the_field_and_nothing_is_added(harness, admin, body, field):
    response = await admin.post("/api/admin/users", json=body)
    assert response.status_code == 422, response.text
    assert any(field in item["field"] for item in response.json()["detail"]), response.json()
    assert len((await admin.get("/api/admin/users")).json()) == 1
    assert await _audit(harness, "add_person") == []


async def test_changing_a_role_or_organisation_signs_them_out_and_is_audited(harness, admin):
    organisations = await load_demo_directory(harness)
    sam = await harness.add_user("sam", "listener")
    sams_browser = await harness.signed_in("sam")
    partner = {"role": "partner", "organisation_id": organisations["citizens-advice"]}
    changed = await admin.patch(f"/api/admin/users/{sam.id}", json=partner)
    assert changed.status_code == 200 and changed.json()["role"] == "partner"
    assert (await sams_browser.get("/api/me")).status_code == 401
    [event] = await _audit(harness, "change_person")
    assert event.actor == "user:root" and event.detail["role"] == {"from": "listener", "to": "partner"}
    # A partner without an organisation, or one that does not exist, is refused.
    refused = await admin.patch(f"/api/admin/users/{sam.id}", json={"organisation_id": None})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "organisation_id"
    assert (await admin.patch(f"/api/admin/users/{sam.id}", json={"organisation_id": 99999})).status_code == 404
    assert (await admin.patch(f"/api/admin/users/{sam.id}", json={"role": "boss"})).status_code == 422
    back = await admin.patch(f"/api/admin/users/{sam.id}", json={"role": "listener"})
    assert back.status_code == 200 and back.json()["organisation_id"] is None
    assert (await admin.patch("/api/admin/users/99999", json={"role": "listener"})).status_code == 404


async def test_deactivating_ends_their_sessions_but_never_yourself_or_the_last_admin(harness, admin):
    sam = await harness.add_user("sam", "listener")
    sams_browser = await harness.signed_in("sam")
    done = await admin.post(f"/api/admin/users/{sam.id}/deactivate")
    assert done.status_code == 200 and done.json()["is_active"] is False
    assert (await sams_browser.get("/api/me")).status_code == 401
    async with harness.client() as again:
        assert (await login(again, "sam")).status_code == 401
    assert [e.actor for e in await _audit(harness, "deactivate_person")] == ["user:root"]
    assert (await admin.post(f"/api/admin/users/{sam.id}/reactivate")).json()["is_active"] is True
    assert len(await _audit(harness, "reactivate_person")) == 1

    async with session_scope(harness.runtime) as session:
        root_id = await session.scalar(sa.select(User.id).where(User.username == "root"))
    myself = await admin.post(f"/api/admin/users/{root_id}/deactivate")
    assert myself.status_code == 409 and myself.json()["error"] == "not_yourself"
    demote = await admin.patch(f"/api/admin/users/{root_id}", json={"role": "listener"})
    assert demote.status_code == 409
    # Another admin can deactivate root (signing root out); then bea, the last, cannot demote herself.
    bea_user = await harness.add_user("bea", "admin")
    bea = await harness.signed_in("bea")
    assert (await bea.post(f"/api/admin/users/{root_id}/deactivate")).status_code == 200
    assert (await admin.get("/api/admin/users")).status_code == 401
    last = await bea.patch(f"/api/admin/users/{bea_user.id}", json={"role": "listener"})
    assert last.status_code == 409 and last.json()["error"] == "not_yourself"


async def test_the_last_admin_is_kept_even_when_asked_by_an_account_that_is_not_counted(harness):
    """Only reachable by a race (two admins deactivating each other at once): the count, row-locked
    on PostgreSQL, is what refuses the second."""
    from app.admin.service import deactivate_person

    root = await harness.add_user("root", "admin")
    gone = await harness.add_user("gone", "admin")
    async with session_scope(harness.runtime) as session:
        (await session.get(User, gone.id)).is_active = False
    with pytest.raises(Exception) as refused:
        async with session_scope(harness.runtime) as session:
            await deactivate_person(session, root.id, admin=await session.get(User, gone.id))
    assert getattr(refused.value, "error", None) == "last_admin"


async def test_a_password_reset_is_shown_once_signs_them_out_and_the_old_one_stops(harness, admin):
    sam = await harness.add_user("sam", "listener")
    sams_browser = await harness.signed_in("sam")
    reset = await admin.post(f"/api/admin/users/{sam.id}/password", json={})
    assert reset.status_code == 200 and reset.json()["sessions_ended"] == 1
    new = reset.json()["password"]
    assert (await sams_browser.get("/api/me")).status_code == 401
    async with harness.client() as c:
        assert (await login(c, "sam")).status_code == 401
    async with harness.client() as c:
        assert (await login(c, "sam", new)).status_code == 303
    chosen = await admin.post(f"/api/admin/users/{sam.id}/password", json={"password": "another long one"})
    assert chosen.json()["password"] is None
    short = await admin.post(f"/api/admin/users/{sam.id}/password", json={"password": "short"})
    assert short.status_code == 422 and short.json()["detail"][0]["field"].endswith("password")
    events = await _audit(harness, "reset_password")
    assert len(events) == 2 and all(new not in str(e.detail) for e in events)
    assert (await admin.post("/api/admin/users/99999/password", json={})).status_code == 404


async def test_api_keys_listed_with_last_use_and_revoked_with_audit(harness, admin):
    organisations = await load_demo_directory(harness)
    org = organisations["citizens-advice"]
    issued = await admin.post(f"/api/admin/organisations/{org}/api-keys", json={"name": "case system"})
    assert issued.status_code == 201
    key = issued.json()["key"]
    [listed] = (await admin.get("/api/admin/api-keys", params={"organisation_id": org})).json()
    assert listed["last_used_at"] is None and key not in str(listed) and listed["name"] == "case system"
    async with harness.client(headers={"Authorization": f"Bearer {key}"}) as system:
        assert (await system.get("/api/partner/v1/services")).status_code == 200
    [listed] = (await admin.get("/api/admin/api-keys")).json()
    assert listed["last_used_at"] is not None
    assert (await admin.delete(f"/api/admin/api-keys/{listed['id']}")).status_code == 204
    async with harness.client(headers={"Authorization": f"Bearer {key}"}) as system:
        assert (await system.get("/api/partner/v1/services")).status_code == 401
    assert [e.actor for e in await _audit(harness, "issue_api_key")] == ["user:root"]
    assert [e.actor for e in await _audit(harness, "revoke_api_key")] == ["user:root"]
    assert (await admin.post(f"/api/admin/organisations/{org}/api-keys", json={"name": ""})).status_code == 422
    assert (await admin.post("/api/admin/organisations/99999/api-keys", json={"name": "x"})).status_code == 404
    assert (await admin.delete("/api/admin/api-keys/99999")).status_code == 404


async def test_webhook_set_test_and_a_dead_delivery_retried(harness, admin):
    organisations = await load_demo_directory(harness)
    org = organisations["citizens-advice"]
    untested = await admin.post(f"/api/admin/organisations/{org}/webhook/test")
    assert untested.status_code == 422 and untested.json()["detail"][0]["field"] == "url"
    bad = await admin.put(f"/api/admin/organisations/{org}/webhook", json={"url": "ftp://x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "url"
    # Port 9 on loopback answers nothing: the test delivery fails and is recorded, not lost.
    done = await admin.put(f"/api/admin/organisations/{org}/webhook", json={"url": "http://127.0.0.1:9/hook"})
    assert done.status_code == 200 and done.json()["secret"]
    sent = await admin.post(f"/api/admin/organisations/{org}/webhook/test")
    assert sent.status_code == 201 and sent.json()["event"] == "webhook.test" and sent.json()["ticket_id"] is None
    [delivery] = (await admin.get(f"/api/admin/organisations/{org}/deliveries")).json()
    assert delivery["status"] == "pending" and delivery["attempts"] == 1 and delivery["last_error"]
    not_dead = await admin.post(f"/api/admin/deliveries/{delivery['id']}/retry")
    assert not_dead.status_code == 409 and not_dead.json()["error"] == "not_dead"
    async with session_scope(harness.runtime) as session:
        (await session.get(PartnerNotification, delivery["id"])).status = "dead"
    retried = await admin.post(f"/api/admin/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 200
    [after] = (await admin.get(f"/api/admin/organisations/{org}/deliveries")).json()
    assert after["attempts"] == 2  # sent once more at once (and failed again: still nothing listening)
    for action in ("set_webhook", "test_webhook", "retry_delivery"):
        assert [e.actor for e in await _audit(harness, action)] == ["user:root"], action
    assert (await admin.get("/api/admin/organisations/99999/deliveries")).status_code == 404
    assert (await admin.post("/api/admin/deliveries/99999/retry")).status_code == 404


async def test_need_categories_added_renamed_and_retired(harness, admin):
    await load_demo_directory(harness)
    added = await admin.post("/api/admin/needs", json={"slug": "gambling", "label": "Gambling"})
    assert added.status_code == 201
    assert (await admin.post("/api/admin/needs", json={"slug": "gambling", "label": "Again"})).status_code == 409
    bad = await admin.post("/api/admin/needs", json={"slug": "Not A Slug", "label": "x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"].endswith("slug")
    renamed = await admin.patch("/api/admin/needs/gambling", json={"label": "Gambling harm"})
    assert renamed.json()["label"] == "Gambling harm"
    assert (await admin.post("/api/admin/needs/gambling/retire")).json()["retired_at"]
    offered = [n["slug"] for n in (await admin.get("/api/directory/needs")).json()]
    assert "gambling" not in offered and "money" in offered
    assert "gambling" in [n["slug"] for n in (await admin.get("/api/admin/needs")).json()]
    assert (await admin.patch("/api/admin/needs/nothing", json={"label": "x"})).status_code == 404
    for action in ("add_need", "rename_need", "retire_need"):
        assert [e.actor for e in await _audit(harness, action)] == ["user:root"], action


async def test_directory_changes_are_audited(harness, admin):
    org = await admin.post("/api/directory/organisations", json={"slug": "mind", "name": "Mind"})
    assert org.status_code == 201
    spec = {"organisation_id": org.json()["id"], "slug": "mind-talk", "name": "Talking", "needs": []}
    service = await admin.post("/api/directory/services", json=spec)
    assert service.status_code == 201, service.text
    bad_hours = await admin.patch(f"/api/directory/services/{service.json()['id']}", json={"hours": [{"days": "x"}]})
    assert bad_hours.status_code == 422
    assert (
        await admin.patch(f"/api/directory/services/{service.json()['id']}", json={"capacity": 3})
    ).status_code == 200
    assert (await admin.delete(f"/api/directory/services/{service.json()['id']}")).status_code == 200
    for action in ("add_organisation", "add_service", "change_service", "retire_service"):
        assert [e.actor for e in await _audit(harness, action)] == ["user:root"], action


async def test_the_audit_is_searched_by_who_action_and_time_newest_first_and_paged(harness, admin):
    for n in range(55):
        await admin.post("/api/admin/needs", json={"slug": f"need-{n}", "label": f"Need {n}"})
        harness.clock.advance(minutes=1)
    first = (await admin.get("/api/admin/audit", params={"action": "add_need"})).json()
    assert len(first["events"]) == 50 and first["has_more"] and first["events"][0]["detail"]["slug"] == "need-54"
    second = (await admin.get("/api/admin/audit", params={"action": "add_need", "page": 2})).json()
    assert len(second["events"]) == 5 and not second["has_more"]
    by_who = (await admin.get("/api/admin/audit", params={"actor": "ROO"})).json()
    assert by_who["events"] and all(e["actor"] == "user:root" for e in by_who["events"])
    assert (await admin.get("/api/admin/audit", params={"actor": "nobody"})).json()["events"] == []
    times = [e["at"] for e in first["events"]]
    window = (await admin.get("/api/admin/audit", params={"since": times[5], "until": times[0]})).json()
    assert len(window["events"]) == 5
    upside_down = await admin.get("/api/admin/audit", params={"since": times[0], "until": times[5]})
    assert upside_down.status_code == 422 and upside_down.json()["detail"][0]["field"] == "since"
    assert (await admin.get("/api/admin/audit", params={"page": 0})).status_code == 422
    assert (await admin.get("/api/admin/audit", params={"since": "yesterday"})).status_code == 422


async def test_a_change_with_one_bad_field_changes_nothing(harness, admin):
    sam = await harness.add_user("sam", "listener", display_name="Sam")
    refused = await admin.patch(
        f"/api/admin/users/{sam.id}", json={"role": "supervisor", "display_name": "Sam O", "dial_address": "desk"}
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "dial_address"
    [unchanged] = [p for p in (await admin.get("/api/admin/users")).json() if p["username"] == "sam"]
    assert unchanged["role"] == "listener" and unchanged["display_name"] == "Sam" and unchanged["dial_address"] is None
    assert await _audit(harness, "change_person") == []
    done = await admin.patch(f"/api/admin/users/{sam.id}", json={"dial_address": "sip:sam@desk.example.org"})
    assert done.status_code == 200 and done.json()["dial_address"] == "sip:sam@desk.example.org"
    assert len(await _audit(harness, "change_dial_address")) == 1
