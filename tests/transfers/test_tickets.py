"""Warm-transfer tickets through the API, on SQLite and PostgreSQL: made once from the call log
with the caller's consent, moved only as the state table allows, one winner among racing accepts,
declines re-routed, targets counted in opening hours and breaches flagged once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.core.events import LiveEvent
from app.core.jobs import run_due_jobs
from app.core.security import create_api_key
from tests.conftest import load_demo_directory
from tests.scenarios import GOOD, logged_session, partner, service_id, transfer
from transfers.directory.models import Service
from transfers.tickets.models import FollowUp, PartnerNotification, TicketEvent, TransferTicket

NUMBER = "+447700900123"


async def live(harness, type_):
    async with session_scope(harness.runtime) as session:
        return (await session.scalars(sa.select(LiveEvent).where(LiveEvent.type == type_).order_by(LiveEvent.id))).all()


async def test_a_warm_transfer_carries_what_was_logged_to_the_partner(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    made = await transfer(listener, session_id, ca)
    assert made.status_code == 201, made.text
    ticket = made.json()
    assert ticket["status"] == "requested" and ticket["contact_number"].endswith("123")
    assert "900123" not in ticket["contact_number"]  # the helpline's screens mask it
    # Targets count only opening hours: Monday 20:00, weekdays 9-17, 16 hours -> Wednesday 17:00.
    assert datetime.fromisoformat(ticket["accept_by"]) == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)

    worker = await partner(harness, organisations)
    queue = (await worker.get(f"/api/partner/v1/services/{ca}/queue")).json()["tickets"]
    assert [t["id"] for t in queue] == [ticket["ticket_id"]]
    detail = (await worker.get(f"/api/partner/v1/tickets/{ticket['ticket_id']}")).json()
    assert (detail["contact_number"], detail["caller_name"], detail["shared_summary"]) == (
        NUMBER,
        "Jamie",
        GOOD["summary"],
    )
    assert detail["needs"] == GOOD["needs"] and detail["consent"]["covers"] == GOOD["consent_covers"]
    assert detail["allowed_actions"] == ["accept", "reject", "cancel"]
    async with session_scope(harness.runtime) as session:
        reads = (await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "read_caller_details"))).all()
        stored = await session.get(TransferTicket, ticket["ticket_id"])
    assert [(r.actor, r.subject_id) for r in reads] == [("user:ca-worker", ticket["ticket_id"])]
    assert "Jamie" not in (stored.caller_name_encrypted or "") and "rent" not in stored.shared_summary_encrypted


async def test_another_organisation_cannot_see_or_touch_the_ticket(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ticket = (await transfer(listener, session_id, await service_id(harness, "ca-money"))).json()
    mind = await partner(harness, organisations, "mind-in-somerset", "mind-worker")
    async with session_scope(harness.runtime) as session:
        key = await create_api_key(session, organisation_id=organisations["mind-in-somerset"], name="case system")
    for path in (f"/api/partner/v1/tickets/{ticket['ticket_id']}", "/api/partner/v1/tickets/99999"):
        assert (await mind.get(path)).status_code == 404
    assert (await mind.post(f"/api/partner/v1/tickets/{ticket['ticket_id']}/accept")).status_code == 404
    async with harness.client(headers={"Authorization": f"Bearer {key.plaintext}"}) as system:
        assert (await system.post(f"/api/partner/v1/tickets/{ticket['ticket_id']}/accept")).status_code == 404
    async with harness.client(headers={"Authorization": "Bearer olk_nope_wrong"}) as forged:
        assert (await forged.get(f"/api/partner/v1/tickets/{ticket['ticket_id']}")).status_code == 401


async def test_one_click_or_two_makes_one_ticket(harness):
    await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    headers = {"Idempotency-Key": "transfer-7f3a"}
    first, second = await asyncio.gather(
        listener.post(
            f"/api/listener/sessions/{session_id}/transfers",
            json={"service_id": ca, "contact_number": NUMBER},
            headers=headers,
        ),
        listener.post(
            f"/api/listener/sessions/{session_id}/transfers",
            json={"service_id": ca, "contact_number": NUMBER},
            headers=headers,
        ),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 201]
    assert first.json()["ticket_id"] == second.json()["ticket_id"]
    async with session_scope(harness.runtime) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(TransferTicket)) == 1
        assert await session.scalar(sa.select(sa.func.count()).select_from(PartnerNotification)) == 1


async def test_no_transfer_without_consent_or_to_a_service_that_cannot_take_it(harness):
    await load_demo_directory(harness)
    ca = await service_id(harness, "ca-money")
    unlogged, listener = await logged_session(harness, "sam", log=None)
    response = await transfer(listener, unlogged, ca)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "consent_to_share"
    refused, alex = await logged_session(
        harness, "alex", log=GOOD | {"consent_to_share": False, "outcome": "supported"}
    )
    response = await transfer(alex, refused, ca)
    assert response.status_code == 422 and "did not consent" in response.json()["detail"][0]["message"]
    session_id, jo = await logged_session(harness, "jo")
    assert (await transfer(jo, session_id, 99999)).json()["detail"][0]["field"] == "service_id"
    no_number = await jo.post(f"/api/listener/sessions/{session_id}/transfers", json={"service_id": ca})
    assert no_number.status_code == 422 and no_number.json()["detail"][0]["field"] == "contact_number"
    async with session_scope(harness.runtime) as session:
        (await session.get(Service, ca)).status = "inactive"
    inactive = await transfer(jo, session_id, ca)
    assert inactive.status_code == 422 and "inactive" in inactive.json()["detail"][0]["message"]
    assert (await transfer(jo, session_id, ca, locality="atlantis")).json()["detail"][0]["field"] == "locality"
    assert (await transfer(listener, session_id, ca)).status_code == 404  # someone else's session: no such session
    async with session_scope(harness.runtime) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(TransferTicket)) == 0


async def test_the_loop_closes_accept_contact_complete_and_the_listener_sees_each_step(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ticket_id = (await transfer(listener, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    worker = await partner(harness, organisations)
    path = f"/api/partner/v1/tickets/{ticket_id}"

    early = await worker.post(f"{path}/confirm-contact")
    assert early.status_code == 409 and early.json()["state"] == "requested"
    assert (await worker.post(f"{path}/accept")).json()["status"] == "accepted"
    harness.clock.advance(hours=3)
    attempt = await worker.post(f"{path}/contact-attempt", json={"reason": "no answer, left no message"})
    assert attempt.json()["status"] == "on-hold" and attempt.json()["contact_attempts"] == 1
    harness.clock.advance(hours=20)
    confirmed = (await worker.post(f"{path}/confirm-contact")).json()
    assert confirmed["status"] == "in-progress" and confirmed["handover_confirmed"] is True
    assert (await worker.post(f"{path}/complete")).json()["detail"][0]["field"] == "outcome"
    done = (
        await worker.post(
            f"{path}/complete",
            json={"outcome": "benefit claim made, debt plan agreed", "outcome_code": "ongoing-support"},
        )
    ).json()
    assert done["status"] == "completed"

    mine = (await listener.get(f"/api/helpline/tickets/{ticket_id}")).json()
    assert [(e["action"], e["to"]) for e in mine["events"]] == [
        ("create", "requested"),
        ("accept", "accepted"),
        ("attempt_failed", "on-hold"),
        ("confirm_contact", "in-progress"),
        ("complete", "completed"),
    ]
    assert mine["handover_at"] == confirmed["handover_at"] and mine["events"][3]["actor"] == "user:ca-worker"
    await harness.add_user("jo", "supervisor")
    board = (await (await harness.signed_in("jo")).get("/api/supervisor/board")).json()["transfers"]["waits"]
    assert board["to_accept"]["median_hours"] == 0.0 and board["to_contact"]["median_hours"] == 23.0
    changes = [e for e in await live(harness, "ticket.changed") if e.audience.startswith("user:")]
    assert [e.data["status"] for e in changes] == ["requested", "accepted", "on-hold", "in-progress", "completed"]
    assert changes[3].data["handover_confirmed"] is True


async def test_of_fifty_concurrent_accepts_exactly_one_wins(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ticket_id = (await transfer(listener, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    async with session_scope(harness.runtime) as session:
        key = await create_api_key(session, organisation_id=organisations["citizens-advice"], name="case system")
    async with harness.client(headers={"Authorization": f"Bearer {key.plaintext}"}) as system:
        replies = await asyncio.gather(*[system.post(f"/api/partner/v1/tickets/{ticket_id}/accept") for _ in range(50)])
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] + [409] * 49, codes
    assert all(r.json()["state"] == "accepted" for r in replies if r.status_code == 409)
    async with session_scope(harness.runtime) as session:
        accepts = await session.scalar(
            sa.select(sa.func.count()).select_from(TicketEvent).where(TicketEvent.action == "accept")
        )
    assert accepts == 1


async def test_a_decline_reroutes_the_caller_to_the_next_service_with_the_same_record(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    suggestions = (await listener.get(f"/api/listener/sessions/{session_id}/suggestions")).json()
    expected_next = next(s for s in suggestions if s["service_id"] != ca)
    ticket_id = (await transfer(listener, session_id, ca)).json()["ticket_id"]
    worker = await partner(harness, organisations)
    no_reason = await worker.post(f"/api/partner/v1/tickets/{ticket_id}/decline")
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["field"] == "reason"
    declined = await worker.post(
        f"/api/partner/v1/tickets/{ticket_id}/decline",
        json={"reason": "at capacity this week", "outcome_code": "no-capacity"},
    )
    assert declined.json()["status"] == "rejected"

    mine = (await listener.get(f"/api/helpline/tickets/{ticket_id}")).json()
    rerouted = (await listener.get(f"/api/helpline/tickets/{mine['rerouted_to_id']}")).json()
    assert rerouted["service_id"] == expected_next["service_id"] and rerouted["rerouted_from_id"] == ticket_id
    assert rerouted["status"] == "requested" and rerouted["needs"] == GOOD["needs"]
    async with session_scope(harness.runtime) as session:
        copied = await session.get(TransferTicket, rerouted["ticket_id"])
        notes = (await session.scalars(sa.select(PartnerNotification.event).order_by(PartnerNotification.id))).all()
    assert harness.runtime.crypto.decrypt(copied.shared_summary_encrypted) == GOOD["summary"]
    assert notes == ["ticket.created", "ticket.rerouted"]


async def test_a_caller_declined_to_the_helpline_or_given_up_on_becomes_a_follow_up(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    worker = await partner(harness, organisations)
    first = (await transfer(listener, session_id, ca)).json()["ticket_id"]
    await worker.post(
        f"/api/partner/v1/tickets/{first}/decline",
        json={
            "reason": "needs a debt service nearer home",
            "outcome_code": "referred-elsewhere",
            "reroute": "helpline",
        },
    )
    second = (await transfer(listener, session_id, ca)).json()["ticket_id"]
    await worker.post(f"/api/partner/v1/tickets/{second}/accept")
    await worker.post(f"/api/partner/v1/tickets/{second}/contact-attempt")
    assert (await worker.post(f"/api/partner/v1/tickets/{second}/give-up")).status_code == 422
    gave_up = await worker.post(
        f"/api/partner/v1/tickets/{second}/give-up",
        json={"reason": "five tries, no answer", "outcome_code": "could-not-contact"},
    )
    assert gave_up.json()["status"] == "failed"
    async with session_scope(harness.runtime) as session:
        follow_ups = (await session.scalars(sa.select(FollowUp).order_by(FollowUp.id))).all()
        tickets = await session.scalar(sa.select(sa.func.count()).select_from(TransferTicket))
    assert [f.ticket_id for f in follow_ups] == [first, second] and tickets == 2
    assert "nearer home" in follow_ups[0].reason and "no answer" in follow_ups[1].reason
    assert len([e for e in await live(harness, "follow-up.created") if e.audience == "role:supervisor"]) == 2


async def test_the_helpline_can_cancel_with_a_reason_and_the_partner_is_told(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    _, alex = await logged_session(harness, "alex")
    ticket_id = (await transfer(listener, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    assert (await alex.post(f"/api/helpline/tickets/{ticket_id}/cancel", json={"reason": "x" * 5})).status_code == 404
    assert (await listener.post(f"/api/helpline/tickets/{ticket_id}/cancel", json={})).status_code == 422
    cancelled = await listener.post(
        f"/api/helpline/tickets/{ticket_id}/cancel", json={"reason": "the caller withdrew consent"}
    )
    assert cancelled.json()["status"] == "cancelled"
    worker = await partner(harness, organisations)
    assert (await worker.post(f"/api/partner/v1/tickets/{ticket_id}/accept")).json()["state"] == "cancelled"
    assert (
        await listener.post(f"/api/helpline/tickets/{ticket_id}/cancel", json={"reason": "again"})
    ).status_code == 409
    async with session_scope(harness.runtime) as session:
        notes = (await session.scalars(sa.select(PartnerNotification.event).order_by(PartnerNotification.id))).all()
    assert notes == ["ticket.created", "ticket.cancelled"]


async def test_target_breaches_fire_once_and_survive_a_restart(harness, make_harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    urgent = (await transfer(listener, session_id, await service_id(harness, "ca-money"), urgent=True)).json()
    # Urgent: 4 opening hours from Monday 20:00 -> Tuesday 13:00.
    assert datetime.fromisoformat(urgent["accept_by"]) == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    harness.clock.set(datetime(2026, 11, 24, 12, 59, tzinfo=UTC))
    await run_due_jobs(harness.runtime)
    assert await live(harness, "ticket.breach") == []

    restarted = await make_harness()  # a new process on the same database, same clock
    restarted.clock.set(datetime(2026, 11, 24, 13, 0, tzinfo=UTC))
    await asyncio.gather(run_due_jobs(restarted.runtime), run_due_jobs(harness.runtime))
    await run_due_jobs(restarted.runtime)
    breaches = await live(harness, "ticket.breach")
    assert [(e.audience, e.data["breach"], e.data["offer_reroute"]) for e in breaches] == [
        ("role:supervisor", "accept", True),
        (f"org:{organisations['citizens-advice']}", "accept", True),
    ]
    worker = await partner(harness, organisations)
    await worker.post(f"/api/partner/v1/tickets/{urgent['ticket_id']}/accept")
    await worker.post(f"/api/partner/v1/tickets/{urgent['ticket_id']}/confirm-contact")
    harness.clock.advance(days=7)
    await run_due_jobs(harness.runtime)  # contact was confirmed in time: no contact breach
    assert len(await live(harness, "ticket.breach")) == 2
    async with session_scope(harness.runtime) as session:
        ticket = await session.get(TransferTicket, urgent["ticket_id"])
    assert ticket.accept_breached_at is not None and ticket.contact_breached_at is None


async def test_after_an_accept_breach_a_supervisor_reroutes_the_caller(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    ticket_id = (await transfer(listener, session_id, ca)).json()["ticket_id"]
    harness.clock.set(datetime(2026, 11, 25, 17, 0, tzinfo=UTC))
    await run_due_jobs(harness.runtime)
    [breach] = [e for e in await live(harness, "ticket.breach") if e.audience == "role:supervisor"]
    assert breach.data["offer_reroute"] and breach.data["ticket_id"] == ticket_id
    await harness.add_user("jo", "supervisor")
    supervisor = await harness.signed_in("jo")
    assert (await supervisor.post(f"/api/helpline/tickets/{ticket_id}/reroute", json={})).status_code == 422
    rerouted = await supervisor.post(
        f"/api/helpline/tickets/{ticket_id}/reroute", json={"reason": "not accepted in time"}
    )
    assert rerouted.status_code == 201, rerouted.text
    new = rerouted.json()
    assert new["rerouted_from_id"] == ticket_id and new["service_id"] != ca and new["status"] == "requested"
    old = (await listener.get(f"/api/helpline/tickets/{ticket_id}")).json()
    assert old["status"] == "cancelled" and old["status_reason"] == "re-routed: not accepted in time"
    assert old["rerouted_to_id"] == new["ticket_id"]
    worker = await partner(harness, organisations)
    assert (await worker.post(f"/api/partner/v1/tickets/{ticket_id}/accept")).json()["state"] == "cancelled"
    again = await supervisor.post(f"/api/helpline/tickets/{ticket_id}/reroute", json={"reason": "again"})
    assert again.status_code == 409 and again.json()["state"] == "cancelled"


async def test_supervisors_see_and_resolve_the_callers_back_with_the_helpline(harness):
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    worker = await partner(harness, organisations)
    ticket_id = (await transfer(listener, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    await worker.post(
        f"/api/partner/v1/tickets/{ticket_id}/decline",
        json={"reason": "needs specialist debt advice", "outcome_code": "referred-elsewhere", "reroute": "helpline"},
    )
    await harness.add_user("jo", "supervisor")
    supervisor = await harness.signed_in("jo")
    [follow_up] = (await supervisor.get("/api/supervisor/follow-ups")).json()
    assert (follow_up["ticket_id"], follow_up["service"], follow_up["listener"]) == (
        ticket_id,
        "Money and benefits casework",
        "Sam",
    )
    assert "specialist debt advice" in follow_up["reason"]
    assert (await listener.get("/api/supervisor/follow-ups")).status_code == 403
    path = f"/api/supervisor/follow-ups/{follow_up['id']}/resolve"
    assert (await supervisor.post(path, json={})).status_code == 422
    done = await supervisor.post(path, json={"note": "rang back, booked with StepChange"})
    assert done.status_code == 200
    assert (await supervisor.post(path, json={"note": "again"})).status_code == 409
    assert (await supervisor.post("/api/supervisor/follow-ups/999/resolve", json={"note": "x" * 5})).status_code == 404
    assert (await supervisor.get("/api/supervisor/follow-ups")).json() == []
    async with session_scope(harness.runtime) as session:
        [audit] = (await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "resolve_follow_up"))).all()
    assert audit.actor == "user:jo" and audit.detail["note"] == "rang back, booked with StepChange"
