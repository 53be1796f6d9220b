"""Partners keep their own services up to date through the partner API, on SQLite and PostgreSQL:
open, paused or closed for a holiday, spaces left, hours, closures and the live line; routing
uses it at once; every change is audited with who; another organisation's service is a 404."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.core.security import create_api_key
from tests.conftest import load_demo_directory
from tests.scenarios import CRISIS_LOG, logged_session, partner, service_id, transfer
from transfers.directory.models import Service


async def suggested(listener, session_id) -> list[int]:
    answer = await listener.get(f"/api/listener/sessions/{session_id}/suggestions")
    assert answer.status_code == 200
    return [s["service_id"] for s in answer.json()]


async def audit_rows(harness, service):
    async with session_scope(harness.runtime) as session:
        return (
            await session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.subject_type == "service", AuditEvent.subject_id == service)
                .order_by(AuditEvent.id)
            )
        ).all()


async def test_a_paused_service_leaves_the_suggestions_until_it_reopens(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    worker = await partner(harness, organisations)
    assert ca in await suggested(listener, session_id)

    paused = await worker.patch(
        f"/api/partner/v1/services/{ca}", json={"availability": "paused", "note": "two caseworkers off sick"}
    )
    assert paused.status_code == 200
    availability = paused.json()["availability"]
    assert availability["state"] == "paused" and availability["available_now"] is False
    assert availability["unavailable_reason"] == "paused by the partner (two caseworkers off sick)"
    assert availability["updated_by"] == "user:ca-worker"
    assert ca not in await suggested(listener, session_id)
    refused = await transfer(listener, session_id, ca)
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "service_id"
    assert "paused" in refused.json()["detail"][0]["message"]

    reopened = await worker.patch(f"/api/partner/v1/services/{ca}", json={"availability": "open"})
    capacity = ("maximum", "waiting_list", "capacity_updated_at", "capacity_updated_by", "capacity_stale")
    assert {k: v for k, v in reopened.json()["availability"].items() if k not in capacity} | {"updated_at": None} == {
        "state": "open",
        "reopens_on": None,
        "note": None,
        "spaces": None,
        "closures": [],
        "available_now": True,
        "unavailable_reason": None,
        "updated_at": None,
        "updated_by": "user:ca-worker",
    }
    assert ca in await suggested(listener, session_id)
    assert (await transfer(listener, session_id, ca)).status_code == 201

    rows = await audit_rows(harness, ca)
    assert [(r.actor, r.action) for r in rows] == [("user:ca-worker", "update_service")] * 2
    assert rows[0].detail["changes"]["availability"] == {"from": "open", "to": "paused"}
    assert rows[1].detail["changes"]["availability_note"] == {"from": "two caseworkers off sick", "to": None}


async def test_spaces_count_down_with_each_warm_transfer_and_at_capacity_can_still_be_chosen(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    worker = await partner(harness, organisations)
    assert (await worker.patch(f"/api/partner/v1/services/{ca}", json={"spaces": 1})).json()["availability"][
        "spaces"
    ] == 1
    assert (await transfer(listener, session_id, ca)).status_code == 201

    mine = next(s for s in (await worker.get("/api/partner/v1/services")).json() if s["id"] == ca)
    assert mine["availability"]["spaces"] == 0
    # At capacity is not a shut door: still offered (lower, saying so) and still possible to choose.
    assert mine["availability"]["unavailable_reason"] is None and mine["availability"]["available_now"]
    assert ca in await suggested(listener, session_id)
    assert (await transfer(listener, session_id, ca)).status_code == 201
    assert (
        next(s for s in (await worker.get("/api/partner/v1/services")).json() if s["id"] == ca)["availability"][
            "spaces"
        ]
        == 0
    )


async def test_a_holiday_ends_on_its_day_and_planned_closures_close_their_days(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    worker = await partner(harness, organisations)
    # The fake clock stands at Monday 23 November 2026, 20:00 in Somerset.
    holiday = await worker.patch(
        f"/api/partner/v1/services/{ca}", json={"availability": "holiday", "reopens_on": "2026-11-25"}
    )
    assert holiday.json()["availability"]["unavailable_reason"] == "closed for a holiday until Wed 25 Nov"
    assert ca not in await suggested(listener, session_id)
    harness.clock.advance(hours=28)  # Wednesday, midnight
    assert ca in await suggested(listener, session_id)

    closures = [{"starts": "2026-11-26", "ends": "2026-11-27", "note": "staff training"}]
    await worker.patch(f"/api/partner/v1/services/{ca}", json={"availability": "open", "closures": closures})
    harness.clock.advance(hours=34)  # Thursday, 10:00
    listed = next(s for s in (await worker.get("/api/partner/v1/services")).json() if s["id"] == ca)
    assert listed["availability"]["closures"] == closures
    assert (
        listed["availability"]["unavailable_reason"]
        == "closed for a holiday until the end of Fri 27 Nov (staff training)"
    )
    assert ca not in await suggested(listener, session_id)


async def test_hours_and_the_live_line_are_the_partners_to_keep(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness, log=CRISIS_LOG)
    safe_space = await service_id(harness, "mind-safe-space")
    worker = await partner(harness, organisations, slug="mind-in-somerset", username="mind-worker")
    changed = await worker.patch(
        f"/api/partner/v1/services/{safe_space}",
        json={"live_phone": "+441823000555", "hours": [{"days": "weekdays", "opens": "09:00", "closes": "17:00"}]},
    )
    assert changed.status_code == 200
    assert changed.json()["live_phone"] == "+441823000555"
    assert changed.json()["hours"] == [{"days": "weekdays", "opens": "09:00", "closes": "17:00"}]
    suggestion = next(
        s
        for s in (await listener.get(f"/api/listener/sessions/{session_id}/suggestions")).json()
        if s["service_id"] == safe_space
    )
    assert suggestion["open_now"] is False and suggestion["live_transfer_possible"] is False

    await worker.patch(
        f"/api/partner/v1/services/{safe_space}",
        json={"availability": "paused", "hours": [{"days": "daily", "opens": "00:00", "closes": "24:00"}]},
    )
    live = await transfer(listener, session_id, safe_space, mode="live")
    assert live.status_code == 422 and live.json()["detail"][0]["field"] == "mode"
    assert "paused by the partner" in live.json()["detail"][0]["message"]


async def test_only_the_partners_own_services_and_bad_input_is_named_and_changes_nothing(harness):
    organisations = await load_demo_directory(harness)
    ca = await service_id(harness, "ca-money")
    safe_space = await service_id(harness, "mind-safe-space")
    worker = await partner(harness, organisations)
    async with session_scope(harness.runtime) as session:
        key = await create_api_key(session, organisation_id=organisations["mind-in-somerset"], name="case system")
    other = await worker.patch(f"/api/partner/v1/services/{safe_space}", json={"availability": "paused"})
    assert other.status_code == 404 and other.json()["error"] == "not_found"
    assert (await worker.patch("/api/partner/v1/services/999999", json={"spaces": 1})).status_code == 404
    async with harness.client(headers={"Authorization": f"Bearer {key.plaintext}"}) as system:
        assert (await system.patch(f"/api/partner/v1/services/{ca}", json={"spaces": 1})).status_code == 404
        own = await system.patch(f"/api/partner/v1/services/{safe_space}", json={"spaces": 3})
        assert own.status_code == 200 and own.json()["availability"]["updated_by"].startswith("apikey:")
    _, listener = await logged_session(harness)
    assert (await listener.patch(f"/api/partner/v1/services/{ca}", json={"spaces": 1})).status_code == 403

    bad = [
        ("live_phone", {"live_phone": "01823 000555"}),
        ("spaces", {"spaces": -1}),
        ("availability", {"availability": "shut"}),
        ("availability", {"availability": None}),
        ("reopens_on", {"availability": "paused", "reopens_on": "2026-11-23"}),
        ("closures.0", {"closures": [{"starts": "2026-12-26", "ends": "2026-12-24"}]}),
        ("closures", {"closures": None}),
        ("hours", {"hours": [{"days": "someday", "opens": "09:00", "closes": "17:00"}]}),
        ("note", {"note": "x" * 301}),
        ("colour", {"spaces": 2, "colour": "red"}),
    ]
    for field, body in bad:
        answer = await worker.patch(f"/api/partner/v1/services/{ca}", json=body)
        assert answer.status_code == 422, field
        assert any(f["field"].startswith(field) for f in answer.json()["detail"]), (field, answer.json())
    async with session_scope(harness.runtime) as session:
        service = await session.get(Service, ca)
        assert (service.availability, service.spaces, service.reopens_on, service.closures) == ("open", None, None, [])
    assert await audit_rows(harness, ca) == []


async def test_a_declined_caller_is_not_re_routed_to_a_paused_service(harness):
    await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    first, second, third = (await suggested(listener, session_id))[:3]
    async with session_scope(harness.runtime) as session:
        paused = await session.get(Service, second)
        paused.availability = "paused"
        declining = await session.scalar(sa.select(Service.slug).where(Service.id == first))
    ticket = (await transfer(listener, session_id, first)).json()["ticket_id"]
    async with session_scope(harness.runtime) as session:
        organisation = await session.scalar(sa.select(Service.organisation_id).where(Service.slug == declining))
    await harness.add_user("first-worker", "partner", organisation_id=organisation)
    worker = await harness.signed_in("first-worker")
    await worker.post(
        f"/api/partner/v1/tickets/{ticket}/decline",
        json={"reason": "no spaces this week", "outcome_code": "no-capacity"},
    )
    onward = (await listener.get(f"/api/helpline/tickets/{ticket}")).json()["rerouted_to_id"]
    assert (await listener.get(f"/api/helpline/tickets/{onward}")).json()["service_id"] == third
