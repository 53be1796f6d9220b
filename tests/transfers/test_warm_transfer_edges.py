"""Warm-transfer rough edges, on SQLite and PostgreSQL: a decline never sends the caller back to a
service already tried for the call, every side reads the same words for what happened, the
listener's night carries every ticket of a call and the partner's reason, and a partner's 409
names the partner's own actions."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.db import session_scope
from tests.conftest import load_demo_directory
from tests.scenarios import GOOD, answered, partner, service_id, transfer
from tests.telephony.conftest import listener, sim  # noqa: F401 - the simulator fixture
from transfers.directory.models import Organisation, Service


async def session_on_a_call(harness, sim):  # noqa: F811 - the fixture, handed on
    """Sam's logged session on a real (simulated) call: the call ties its warm transfers together."""
    _, client = await listener(harness, display_name="Sam")
    _, card = await answered(harness, sim, client)
    assert (await client.post(f"/api/listener/sessions/{card['id']}/log", json=GOOD)).status_code == 201
    return card["id"], client


async def worker_for(harness, service, username):
    async with session_scope(harness.runtime) as session:
        organisation_id = await session.scalar(sa.select(Service.organisation_id).where(Service.id == service))
        slug = await session.scalar(sa.select(Organisation.slug).where(Organisation.id == organisation_id))
    return await partner(harness, {slug: organisation_id}, slug=slug, username=username)


async def test_a_decline_skips_a_service_that_already_helped_the_same_caller(harness, sim):  # noqa: F811
    await load_demo_directory(harness)
    session_id, listener = await session_on_a_call(harness, sim)
    first, second, third = [
        s["service_id"] for s in (await listener.get(f"/api/listener/sessions/{session_id}/suggestions")).json()[:3]
    ]
    helped = (await transfer(listener, session_id, first)).json()["ticket_id"]
    first_worker = await worker_for(harness, first, "first-worker")
    for action, body in [
        ("accept", {}),
        ("confirm-contact", {}),
        ("complete", {"outcome": "rent plan agreed", "outcome_code": "ongoing-support"}),
    ]:
        assert (await first_worker.post(f"/api/partner/v1/tickets/{helped}/{action}", json=body)).status_code == 200

    declined = (await transfer(listener, session_id, second)).json()["ticket_id"]
    second_worker = await worker_for(harness, second, "second-worker")
    answer = await second_worker.post(
        f"/api/partner/v1/tickets/{declined}/decline", json={"reason": "no spaces", "outcome_code": "no-capacity"}
    )
    assert answer.status_code == 200

    onward = (await listener.get(f"/api/helpline/tickets/{declined}")).json()["rerouted_to_id"]
    rerouted = (await listener.get(f"/api/helpline/tickets/{onward}")).json()
    assert rerouted["service_id"] == third  # not back to the service that has just helped this caller


async def test_the_declining_partner_and_the_listener_read_what_actually_happened(harness, sim):  # noqa: F811
    await load_demo_directory(harness)
    session_id, listener = await session_on_a_call(harness, sim)
    ca = await service_id(harness, "ca-money")
    worker = await worker_for(harness, ca, "ca-worker")

    sent_on = (await transfer(listener, session_id, ca)).json()["ticket_id"]
    declined = await worker.post(
        f"/api/partner/v1/tickets/{sent_on}/decline",
        json={"reason": "Outside our area.", "outcome_code": "not-eligible"},
    )
    onward = (await listener.get(f"/api/helpline/tickets/{sent_on}")).json()
    next_service = (await listener.get(f"/api/helpline/tickets/{onward['rerouted_to_id']}")).json()["service"]
    words = f"Declined: Outside our area. The caller has been re-routed to {next_service}."
    assert declined.json()["what_next"] == words and onward["what_next"] == words
    assert (await worker.get(f"/api/partner/v1/tickets/{sent_on}")).json()["what_next"] == words

    back = (await transfer(listener, session_id, ca)).json()["ticket_id"]
    to_helpline = await worker.post(
        f"/api/partner/v1/tickets/{back}/decline",
        json={"reason": "needs a face-to-face service", "outcome_code": "referred-elsewhere", "reroute": "helpline"},
    )
    words = (
        "Declined: needs a face-to-face service. "
        "The caller is back with the helpline team, who will choose another service with them."
    )
    assert to_helpline.json()["what_next"] == words
    assert (await listener.get(f"/api/helpline/tickets/{back}")).json()["what_next"] == words
    assert ".." not in words


async def test_the_listeners_night_carries_every_ticket_of_a_call_and_the_partners_reason(harness, sim):  # noqa: F811
    await load_demo_directory(harness)
    session_id, listener = await session_on_a_call(harness, sim)
    ca = await service_id(harness, "ca-money")
    worker = await worker_for(harness, ca, "ca-worker")
    first = (await transfer(listener, session_id, ca)).json()["ticket_id"]
    await worker.post(
        f"/api/partner/v1/tickets/{first}/decline",
        json={"reason": "at capacity this week", "outcome_code": "no-capacity"},
    )
    onward = (await listener.get(f"/api/helpline/tickets/{first}")).json()["rerouted_to_id"]

    rerouted = (await listener.get(f"/api/helpline/tickets/{onward}")).json()
    assert rerouted["declined_reason"] == "at capacity this week"
    listed = (await listener.get(f"/api/listener/sessions/{session_id}/transfers")).json()
    assert [t["declined_reason"] for t in listed] == ["at capacity this week"] * 2

    tonight = (await listener.get("/api/listener/tonight")).json()
    assert len(tonight) == 1
    transfers = tonight[0]["transfers"]
    assert [(t["ticket_id"], t["status"]) for t in transfers] == [(first, "rejected"), (onward, "requested")]
    assert transfers[0]["status_reason"] == "at capacity this week"
    assert transfers[0]["what_next"].startswith("Declined: at capacity this week. The caller has been re-routed to ")
    assert tonight[0]["transfer"]["ticket_id"] == onward


async def test_a_partners_409_lists_the_partners_own_actions_allowed_now(harness, sim):  # noqa: F811
    await load_demo_directory(harness)
    session_id, listener = await session_on_a_call(harness, sim)
    ca = await service_id(harness, "ca-money")
    worker = await worker_for(harness, ca, "ca-worker")
    ticket = (await transfer(listener, session_id, ca)).json()["ticket_id"]
    assert (await worker.post(f"/api/partner/v1/tickets/{ticket}/accept")).status_code == 200

    refused = await worker.post(
        f"/api/partner/v1/tickets/{ticket}/complete", json={"outcome": "done", "outcome_code": "one-off-intervention"}
    )
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "invalid_transition",
        "detail": "cannot complete a ticket that is accepted (allowed now: contact-attempt, confirm-contact)",
        "state": "accepted",
        "allowed": ["contact-attempt", "confirm-contact"],
    }
