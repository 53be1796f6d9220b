from datetime import timedelta

from app.core.db import session_scope
from app.core.security import create_api_key
from transfers.directory.models import Organisation, Service
from transfers.tickets.models import TransferTicket


async def _service(session, now, slug):
    org = Organisation(slug=slug, name=slug.title(), created_at=now, updated_at=now)
    session.add(org)
    await session.flush()
    service = Service(
        slug=f"{slug}-svc",
        organisation_id=org.id,
        name=f"{slug} service",
        needs=["money"],
        areas=[],
        schedule=[],
        created_at=now,
        updated_at=now,
    )
    session.add(service)
    await session.flush()
    return org, service


def _ticket(service, user, now, *, urgent=False, status="requested", minutes_ago=0):
    made = now - timedelta(minutes=minutes_ago)
    return TransferTicket(
        service_id=service.id,
        created_by=user.id,
        status=status,
        urgent=urgent,
        needs=["money"],
        risk_level="low",
        consent_covers="needs and summary",
        consent_recorded_at=made,
        consent_recorded_by=user.id,
        accept_by=made + timedelta(hours=16),
        contact_by=made + timedelta(hours=40),
        created_at=made,
        updated_at=made,
    )


async def test_a_partner_sees_only_its_own_queues(harness):
    now = harness.clock.now()
    listener = await harness.add_user("sam", "listener")
    async with session_scope(harness.runtime) as session:
        org_a, svc_a = await _service(session, now, "alpha")
        org_b, svc_b = await _service(session, now, "beta")
        session.add_all(
            [
                _ticket(svc_a, listener, now, minutes_ago=30),
                _ticket(svc_a, listener, now, urgent=True, minutes_ago=60),
                _ticket(svc_a, listener, now, status="completed"),
                _ticket(svc_b, listener, now),
            ]
        )
        key_b = await create_api_key(session, organisation_id=org_b.id, name="case system")
    await harness.add_user("pat", "partner", organisation_id=org_a.id)
    partner_a = await harness.signed_in("pat")

    own = await partner_a.get(f"/api/partner/v1/services/{svc_a.id}/queue")
    assert own.status_code == 200
    tickets = own.json()["tickets"]
    assert len(tickets) == 2 and tickets[0]["urgent"] is True  # closed tickets leave the queue; urgent first
    assert (await partner_a.get(f"/api/partner/v1/services/{svc_b.id}/queue")).status_code == 404
    assert [s["slug"] for s in (await partner_a.get("/api/partner/v1/services")).json()] == ["alpha-svc"]

    async with harness.client(headers={"Authorization": f"Bearer {key_b.plaintext}"}) as system_b:
        assert len((await system_b.get(f"/api/partner/v1/services/{svc_b.id}/queue")).json()["tickets"]) == 1
        assert (await system_b.get(f"/api/partner/v1/services/{svc_a.id}/queue")).status_code == 404


async def test_partners_cannot_reach_helpline_or_admin_endpoints(harness):
    async with session_scope(harness.runtime) as session:
        org, _ = await _service(session, harness.clock.now(), "alpha")
    await harness.add_user("pat", "partner", organisation_id=org.id)
    partner = await harness.signed_in("pat")
    assert (await partner.post("/api/listener/calls/next")).status_code == 403
    assert (await partner.get("/api/listener/queue")).status_code == 403
    assert (await partner.get("/api/supervisor/board")).status_code == 403
    assert (
        await partner.post("/api/admin/users", json={"username": "x", "password": "long enough pw", "role": "admin"})
    ).status_code == 403
    listener = await harness.add_user("sam", "listener")
    assert listener.role == "listener"
    assert (await (await harness.signed_in("sam")).get("/api/partner/v1/services")).status_code == 403
