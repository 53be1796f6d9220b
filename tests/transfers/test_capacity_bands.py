"""Live capacity per service through the API, on SQLite and PostgreSQL: the partner (page form or
case system) and the admin give places now, the maximum and a waiting-list band; the listener's
suggestions rank by them and show them, stale after a day; at capacity can still be chosen; bad
figures are named and change nothing; another organisation's service is a 404."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.core.security import create_api_key
from tests.conftest import load_demo_directory
from tests.scenarios import logged_session, partner, service_id, transfer
from transfers.directory.models import Service

BAND = {"spaces": 2, "maximum": 10, "waiting_list": "1-4-weeks"}


async def suggestions(listener, session_id) -> list[dict]:
    answer = await listener.get(f"/api/listener/sessions/{session_id}/suggestions")
    assert answer.status_code == 200
    return answer.json()


def of(rows: list[dict], service: int) -> dict:
    return next(s for s in rows if s["service_id"] == service)


async def figures(harness, service: int) -> tuple:
    async with session_scope(harness.runtime) as session:
        row = await session.get(Service, service)
        return row.spaces, row.capacity, row.waiting_list, row.capacity_updated_by


async def test_the_partner_gives_places_and_a_waiting_list_and_the_listener_sees_them_until_stale(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    worker = await partner(harness, organisations)

    saved = await worker.patch(f"/api/partner/v1/services/{ca}", json=BAND)
    assert saved.status_code == 200
    availability = saved.json()["availability"]
    assert (availability["spaces"], availability["maximum"], availability["waiting_list"]) == (2, 10, "1-4-weeks")
    assert availability["capacity_updated_by"] == "user:ca-worker" and availability["capacity_stale"] is False
    assert availability["capacity_updated_at"] == harness.clock.now().isoformat()
    assert saved.json()["capacity"] == 10 and saved.json()["waiting_list"] == "1-4-weeks"

    harness.clock.advance(hours=3)
    shown = of(await suggestions(listener, session_id), ca)
    assert shown["capacity_words"] == ["2 places today", "waiting list 1–4 weeks", "updated 3 h ago"]
    assert (shown["places"], shown["maximum"], shown["waiting_list"]) == (2, 10, "1-4-weeks")
    assert shown["at_capacity"] is False and shown["capacity_stale"] is False

    # A day without the partner confirming: the listener is told the figures may be out of date.
    harness.clock.advance(hours=22)
    shown = of(await suggestions(listener, session_id), ca)
    assert shown["capacity_stale"] is True and shown["capacity_words"][-1] == "updated 1 day ago — may be out of date"

    # Saving the same figures again confirms them: fresh, with no change to audit.
    again = await worker.patch(f"/api/partner/v1/services/{ca}", json=BAND)
    assert again.json()["availability"]["capacity_stale"] is False
    assert of(await suggestions(listener, session_id), ca)["capacity_words"][-1] == "updated just now"

    async with session_scope(harness.runtime) as session:
        rows = (
            await session.scalars(
                sa.select(AuditEvent).where(AuditEvent.subject_type == "service", AuditEvent.subject_id == ca)
            )
        ).all()
    assert [(r.actor, r.action) for r in rows] == [("user:ca-worker", "update_service")]
    assert rows[0].detail["changes"]["waiting_list"] == {"from": None, "to": "1-4-weeks"}
    assert rows[0].detail["changes"]["capacity"] == {"from": 160, "to": 10}


async def test_at_capacity_ranks_below_room_and_a_short_wait_but_can_still_be_chosen(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    worker = await partner(harness, organisations)
    before = await suggestions(listener, session_id)
    peers = [s for s in before if not s["fallback"] and len(s["matched_needs"]) == len(of(before, ca)["matched_needs"])]
    assert len(peers) > 1, "the demo directory has other services meeting as many of this caller's needs"

    await worker.patch(f"/api/partner/v1/services/{ca}", json={"spaces": 0, "waiting_list": "over-4-weeks"})
    after = await suggestions(listener, session_id)
    full = of(after, ca)
    assert full["at_capacity"] is True and full["available"] is True
    assert full["capacity_words"][:2] == ["at capacity — can still be chosen", "waiting list longer than 4 weeks"]
    # Every peer (the same needs met) with room now ranks above it; the fallback stays last.
    for peer in peers:
        if peer["service_id"] != ca:
            assert of(after, peer["service_id"])["rank"] < full["rank"], peer["name"]
    assert after[-1]["fallback"]

    made = await transfer(listener, session_id, ca)
    assert made.status_code == 201
    assert (await figures(harness, ca))[0] == 0  # never below none

    # Room again and a short wait: back above its peers that said nothing of their wait.
    await worker.patch(f"/api/partner/v1/services/{ca}", json={"spaces": 5, "waiting_list": "under-a-week"})
    again = await suggestions(listener, session_id)
    unsaid = [s for s in again if s["service_id"] in {p["service_id"] for p in peers} and s["waiting_list"] is None]
    assert unsaid and all(of(again, ca)["rank"] < s["rank"] for s in unsaid if not s["at_capacity"])


async def test_capacity_figures_are_checked_and_another_organisation_cannot_set_them(harness):
    organisations = await load_demo_directory(harness)
    ca = await service_id(harness, "ca-money")
    safe_space = await service_id(harness, "mind-safe-space")
    worker = await partner(harness, organisations)
    await worker.patch(f"/api/partner/v1/services/{ca}", json=BAND)
    kept = await figures(harness, ca)

    bad = [
        ("waiting_list", {"waiting_list": "soon"}),
        ("waiting_list", {"waiting_list": "under a week"}),
        ("spaces", {"spaces": 11}),  # more places than the maximum of 10
        ("maximum", {"maximum": 1}),  # below the 2 places given
        ("spaces", {"spaces": 20, "maximum": 12}),
        ("maximum", {"maximum": -1}),
        ("spaces", {"spaces": 1001}),
        ("maximum", {"maximum": "ten"}),
    ]
    for field, body in bad:
        answer = await worker.patch(f"/api/partner/v1/services/{ca}", json=body)
        assert answer.status_code == 422, body
        assert [f["field"] for f in answer.json()["detail"]] == [field], (body, answer.json())
    assert (
        "more than the maximum of 10"
        in (await worker.patch(f"/api/partner/v1/services/{ca}", json={"spaces": 11})).json()["detail"][0]["message"]
    )
    assert await figures(harness, ca) == kept

    # Another organisation's service: 404, whether from the page or a case system's key.
    before = await figures(harness, safe_space)
    other = await worker.patch(f"/api/partner/v1/services/{safe_space}", json={"waiting_list": "over-4-weeks"})
    assert other.status_code == 404 and other.json()["error"] == "not_found"
    async with session_scope(harness.runtime) as session:
        key = await create_api_key(session, organisation_id=organisations["mind-in-somerset"], name="case system")
    async with harness.client(headers={"Authorization": f"Bearer {key.plaintext}"}) as system:
        refused = await system.patch(f"/api/partner/v1/services/{ca}", json={"spaces": 0})
        assert refused.status_code == 404
        own = await system.patch(f"/api/partner/v1/services/{safe_space}", json={"waiting_list": "under-a-week"})
        assert own.status_code == 200 and own.json()["availability"]["capacity_updated_by"].startswith("apikey:")
    assert await figures(harness, ca) == kept
    assert (await figures(harness, safe_space))[:2] == before[:2]


async def test_admins_set_capacity_in_the_directory_and_the_import_leaves_the_partners_figures(harness):
    from tests.conftest import DEMO_DIRECTORY
    from transfers.directory.importer import import_directory, parse_directory

    await load_demo_directory(harness)
    ca = await service_id(harness, "ca-money")
    await harness.add_user("admin", "admin")
    admin = await harness.signed_in("admin")
    changed = await admin.patch(f"/api/directory/services/{ca}", json={"spaces": 4, "waiting_list": "under-a-week"})
    assert changed.status_code == 200
    body = changed.json()
    assert (body["spaces"], body["capacity"], body["waiting_list"]) == (4, 160, "under-a-week")
    assert body["capacity_updated_by"] == "user:admin"
    refused = await admin.patch(f"/api/directory/services/{ca}", json={"capacity": 3})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "spaces"
    refused = await admin.patch(f"/api/directory/services/{ca}", json={"waiting_list": "later"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "waiting_list"
    _, listener = await logged_session(harness)
    assert (await listener.get(f"/api/directory/services/{ca}")).json()["waiting_list"] == "under-a-week"

    # The demo file says nothing of places or waiting lists: re-importing it leaves them as given.
    async with session_scope(harness.runtime) as session:
        await import_directory(session, parse_directory(DEMO_DIRECTORY.read_text()))
    assert await figures(harness, ca) == (4, 160, "under-a-week", "user:admin")

    # A file that gives them sets them, stamped as the import's.
    text = DEMO_DIRECTORY.read_text().replace(
        "    capacity: 160\n", "    capacity: 160\n    spaces: 7\n    waiting_list: 1-4-weeks\n", 1
    )
    async with session_scope(harness.runtime) as session:
        await import_directory(session, parse_directory(text))
    assert await figures(harness, ca) == (7, 160, "1-4-weeks", "directory import")
