"""The closed loop with partners, on SQLite and PostgreSQL: a ticket nobody accepts, or whose
partner cannot reach the caller, comes back to the helpline by itself (exactly once); the
helpline amends a sent ticket and the partner's webhook, dashboards and API show what changed;
one journey id across a caller's warm transfers, visible to the partners on it only with the
caller's consent; and the polling contract beside the webhooks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.audit import READ_PERSONAL_DATA, AuditEvent
from app.core.db import session_scope
from app.core.events import LiveEvent
from app.core.jobs import Job, run_due_jobs
from tests.conftest import load_demo_directory
from tests.scenarios import CALLER_NUMBER, GOOD, answered, hang_up, logged_session, partner, service_id, transfer
from tests.telephony.conftest import listener, sim  # noqa: F401 - the simulator fixture
from transfers.directory.models import Organisation, Service
from transfers.notifications import TRANSPORT_EXTRA, set_webhook, verify_delivery
from transfers.tickets.models import FollowUp, PartnerNotification, TicketAmendment, TicketEvent
from transfers.tickets.service import TAKE_BACK_GRACE
from transfers.tickets.targets import take_back_unaccepted

# ca-money's accept-by for a ticket made on Monday 20:00 (16 opening hours): Wednesday 17:00.
ACCEPT_BY = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


async def rows(harness, model, *where):
    async with session_scope(harness.runtime) as session:
        return list((await session.scalars(sa.select(model).where(*where).order_by(model.id))).all())


async def live(harness, type_):
    return await rows(harness, LiveEvent, LiveEvent.type == type_)


async def supervisor(harness):
    await harness.add_user("jo", "supervisor")
    return await harness.signed_in("jo")


# Take-back


async def test_a_ticket_nobody_accepts_comes_back_to_the_helpline_once(harness):
    organisations = await load_demo_directory(harness)
    session_id, sam = await logged_session(harness)
    ticket_id = (await transfer(sam, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    harness.clock.set(ACCEPT_BY)
    await run_due_jobs(harness.runtime)
    # At the accept-by supervisors are told and may re-route; the partner still has it.
    assert (await sam.get(f"/api/helpline/tickets/{ticket_id}")).json()["status"] == "requested"
    assert await rows(harness, FollowUp) == []

    harness.clock.set(ACCEPT_BY + TAKE_BACK_GRACE)
    await run_due_jobs(harness.runtime)
    mine = (await sam.get(f"/api/helpline/tickets/{ticket_id}")).json()
    assert mine["status"] == "cancelled" and mine["taken_back"] is True
    assert "Not accepted in time by Money and benefits casework" in mine["follow_up"]
    assert [(e["action"], e["actor"]) for e in mine["events"][-2:]] == [
        ("cancel", "openline:take-back"),
        ("take_back", "openline:take-back"),
    ]
    lead = await supervisor(harness)
    [follow_up] = (await lead.get("/api/supervisor/follow-ups")).json()
    assert follow_up["ticket_id"] == ticket_id and follow_up["ticket_status"] == "cancelled"
    assert follow_up["journey_id"] == mine["journey_id"]
    board = (await lead.get("/api/supervisor/board")).json()
    assert [f["ticket_id"] for f in board["follow_ups"]] == [ticket_id]
    # The partner is told it no longer has the caller, and cannot accept now.
    worker = await partner(harness, organisations)
    late = await worker.post(f"/api/partner/v1/tickets/{ticket_id}/accept")
    assert late.status_code == 409 and late.json()["state"] == "cancelled"
    events = [n.event for n in await rows(harness, PartnerNotification)]
    assert events == ["ticket.created", "ticket.cancelled"]

    # The job runs again (a second worker, a retry): nothing more happens.
    [job] = await rows(harness, Job, Job.key == f"ticket-take-back:{ticket_id}")
    for _ in range(2):
        async with session_scope(harness.runtime) as session:
            await take_back_unaccepted(session, job)
    assert len(await rows(harness, FollowUp)) == 1
    assert len(await rows(harness, TicketEvent, TicketEvent.action == "take_back")) == 1
    assert len(await rows(harness, PartnerNotification)) == 2


async def test_a_ticket_accepted_in_time_is_never_taken_back(harness):
    organisations = await load_demo_directory(harness)
    session_id, sam = await logged_session(harness)
    ticket_id = (await transfer(sam, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    worker = await partner(harness, organisations)
    harness.clock.set(ACCEPT_BY - timedelta(minutes=1))
    assert (await worker.post(f"/api/partner/v1/tickets/{ticket_id}/accept")).status_code == 200
    harness.clock.set(ACCEPT_BY + TAKE_BACK_GRACE + timedelta(days=1))
    await run_due_jobs(harness.runtime)
    assert (await sam.get(f"/api/helpline/tickets/{ticket_id}")).json()["status"] == "accepted"
    assert await rows(harness, FollowUp) == []


async def test_a_partner_who_cannot_reach_the_caller_hands_them_back_with_the_coded_outcome(harness):
    organisations = await load_demo_directory(harness)
    session_id, sam = await logged_session(harness)
    ticket_id = (await transfer(sam, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    worker = await partner(harness, organisations)
    path = f"/api/partner/v1/tickets/{ticket_id}"
    await worker.post(f"{path}/accept")
    await worker.post(f"{path}/contact-attempt", json={"reason": "no answer"})
    gave_up = await worker.post(
        f"{path}/give-up", json={"reason": "three tries, no answer", "outcome_code": "could-not-contact"}
    )
    assert gave_up.status_code == 200 and gave_up.json()["taken_back"] is True
    mine = (await sam.get(f"/api/helpline/tickets/{ticket_id}")).json()
    assert mine["outcome_words"] == "Could not contact" and "could not reach the caller" in mine["follow_up"]
    lead = await supervisor(harness)
    [follow_up] = (await lead.get("/api/supervisor/follow-ups")).json()
    assert (follow_up["ticket_status"], follow_up["outcome_words"]) == ("failed", "Could not contact")
    harness.clock.set(ACCEPT_BY + TAKE_BACK_GRACE)
    await run_due_jobs(harness.runtime)  # the accept-by timer was stopped at the accept
    assert len(await rows(harness, FollowUp)) == 1


# Amendments


class Receiver:
    """A partner's webhook endpoint that checks every signature as a partner would."""

    def __init__(self, clock, secret):
        self.clock, self.secret, self.deliveries = clock, secret, []
        self.app = Starlette(routes=[Route("/hook", self.endpoint, methods=["POST"])])

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        h = request.headers
        signed = verify_delivery(
            self.secret,
            h.get("x-openline-timestamp", ""),
            body,
            h.get("x-openline-signature", ""),
            now_unix=self.clock.now().timestamp(),
        )
        if not signed:
            return Response(status_code=401)
        self.deliveries.append(json.loads(body))
        return Response(status_code=204)


async def webhook_for(harness, organisation_id) -> Receiver:
    async with session_scope(harness.runtime) as session:
        _, secret = await set_webhook(session, organisation_id=organisation_id, url="https://ca.example.org/hook")
    receiver = Receiver(harness.clock, secret)
    harness.runtime.extras[TRANSPORT_EXTRA] = httpx.ASGITransport(app=receiver.app)
    return receiver


async def test_an_amendment_reaches_the_partner_versioned_and_encrypted(harness):
    organisations = await load_demo_directory(harness)
    receiver = await webhook_for(harness, organisations["citizens-advice"])
    session_id, sam = await logged_session(harness)
    ticket_id = (await transfer(sam, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    harness.clock.advance(minutes=10)
    amended = await sam.post(
        f"/api/helpline/tickets/{ticket_id}/amendments",
        json={"detail": "Has a hearing on Friday about the arrears", "preferred_times": "mornings before 9"},
    )
    assert amended.status_code == 201, amended.text
    assert amended.json()["amendment_version"] == 1 and amended.json()["preferred_times"] == "mornings before 9"
    lead = await supervisor(harness)
    second = await lead.post(
        f"/api/helpline/tickets/{ticket_id}/amendments",
        json={"contact_method": "text", "contact_number": "07700 900456"},
    )
    assert second.status_code == 201 and second.json()["amendment_version"] == 2
    # The helpline's screens mask the numbers, before and after.
    assert "900456" not in json.dumps(second.json()["amendments"])

    await run_due_jobs(harness.runtime)
    assert [d["event"] for d in receiver.deliveries] == ["ticket.created", "ticket.amended", "ticket.amended"]
    first_note = receiver.deliveries[1]
    assert first_note["ticket_id"] == ticket_id
    assert first_note["data"]["amendment"] == {"version": 1, "fields": ["detail", "preferred_times"]}
    assert "hearing" not in json.dumps(receiver.deliveries)  # the partner fetches the text, audited
    assert [e.audience for e in await live(harness, "ticket.amended")] == [
        f"org:{organisations['citizens-advice']}"
    ] * 2

    worker = await partner(harness, organisations)
    seen = (await worker.get(f"/api/partner/v1/tickets/{ticket_id}")).json()
    assert seen["amendment_version"] == 2 and seen["added_details"] == ["Has a hearing on Friday about the arrears"]
    assert (seen["contact_method"], seen["contact_number"], seen["preferred_times"]) == (
        "text",
        "+447700900456",
        "mornings before 9",
    )
    v1, v2 = seen["amendments"]
    assert (v1["version"], v1["actor"], v1["changes"]["preferred_times"]) == (
        1,
        "user:sam",
        {"before": "evenings after 6", "after": "mornings before 9"},
    )
    assert v2["actor"] == "user:jo" and v2["changes"]["contact_number"] == {
        "before": "+447700900123",
        "after": "+447700900456",
    }
    assert [e["action"] for e in seen["events"]] == ["create", "amend", "amend"]
    # Showing the decrypted amendments to staff is an audited read too.
    assert (await sam.get(f"/api/helpline/tickets/{ticket_id}")).status_code == 200
    reads = await rows(harness, AuditEvent, AuditEvent.action == READ_PERSONAL_DATA)
    assert ("user:sam", "transfer_ticket", ticket_id) in [(r.actor, r.subject_type, r.subject_id) for r in reads]
    [stored, _] = await rows(harness, TicketAmendment)
    assert "hearing" not in stored.changes_encrypted and "mornings" not in stored.changes_encrypted


async def test_only_the_listener_who_sent_it_or_a_supervisor_amends_and_never_a_closed_ticket(harness):
    organisations = await load_demo_directory(harness)
    session_id, sam = await logged_session(harness)
    ticket_id = (await transfer(sam, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    path = f"/api/helpline/tickets/{ticket_id}/amendments"
    _, alex = await logged_session(harness, "alex")
    assert (await alex.post(path, json={"detail": "not mine"})).status_code == 404
    nothing = await sam.post(path, json={"preferred_times": "evenings after 6"})  # already so
    assert nothing.status_code == 422 and nothing.json()["detail"][0]["field"] == "detail"
    bad = await sam.post(path, json={"contact_number": "12"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "contact_number"
    worker = await partner(harness, organisations)
    mind = await partner(harness, organisations, "mind-in-somerset", "mind-worker")
    assert (await mind.get(f"/api/partner/v1/tickets/{ticket_id}")).status_code == 404
    assert (
        await worker.post(
            f"/api/partner/v1/tickets/{ticket_id}/decline",
            json={
                "reason": "outside our area",
                "outcome_code": "not-eligible",
                "reroute": "helpline",
            },
        )
    ).status_code == 200
    closed = await sam.post(path, json={"detail": "too late"})
    assert closed.status_code == 409 and closed.json()["state"] == "rejected"
    assert await rows(harness, TicketAmendment) == []


# One journey


async def session_on_a_call(harness, sim, client=None):  # noqa: F811 - the fixture, handed on
    """Sam's logged session on a real (simulated) call: the call ties its warm transfers together."""
    if client is None:
        _, client = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, client)
    assert (await client.post(f"/api/listener/sessions/{card['id']}/log", json=GOOD)).status_code == 201
    return card["id"], client, caller


async def worker_for(harness, service, username):
    async with session_scope(harness.runtime) as session:
        organisation_id = await session.scalar(sa.select(Service.organisation_id).where(Service.id == service))
        slug = await session.scalar(sa.select(Organisation.slug).where(Organisation.id == organisation_id))
    return await partner(harness, {slug: organisation_id}, slug=slug, username=username)


async def test_partners_on_one_journey_see_each_others_status_only_with_consent(harness, sim):  # noqa: F811
    await load_demo_directory(harness)
    session_id, sam, _ = await session_on_a_call(harness, sim)
    first, second = [
        s["service_id"] for s in (await sam.get(f"/api/listener/sessions/{session_id}/suggestions")).json()[:2]
    ]
    shared = (await transfer(sam, session_id, first, share_journey=True)).json()
    other = (await transfer(sam, session_id, second)).json()  # same call, no consent to share the journey
    assert shared["journey_id"] == other["journey_id"] and shared["share_journey"] and not other["share_journey"]
    first_worker = await worker_for(harness, first, "first-worker")
    second_worker = await worker_for(harness, second, "second-worker")

    # The second partner's ticket carries no consent: it sees no journey, and is not seen.
    unseen = (await second_worker.get(f"/api/partner/v1/tickets/{other['ticket_id']}")).json()
    assert unseen["journey_id"] is None and unseen["journey"] == []
    assert (await second_worker.get(f"/api/partner/v1/tickets/{other['ticket_id']}/journey")).status_code == 404
    assert (await first_worker.get(f"/api/partner/v1/tickets/{shared['ticket_id']}/journey")).json()["others"] == []

    # Declined and re-routed: the next partner is on the same journey, and both see each other.
    await first_worker.post(
        f"/api/partner/v1/tickets/{shared['ticket_id']}/decline",
        json={"reason": "no spaces this month", "outcome_code": "no-capacity"},
    )
    onward_id = (await sam.get(f"/api/helpline/tickets/{shared['ticket_id']}")).json()["rerouted_to_id"]
    onward = (await sam.get(f"/api/helpline/tickets/{onward_id}")).json()
    assert onward["journey_id"] == shared["journey_id"] and onward["share_journey"]
    onward_worker = await worker_for(harness, onward["service_id"], "onward-worker")
    journey = (await onward_worker.get(f"/api/partner/v1/tickets/{onward_id}/journey")).json()
    assert journey["journey_id"] == shared["journey_id"]
    assert [(s["service"], s["status"], s["yours"]) for s in journey["others"]] == [
        (shared["service"], "rejected", False)
    ]
    assert set(journey["others"][0]) == {"service", "status", "updated_at", "yours"}  # no notes, no reasons
    detail = (await onward_worker.get(f"/api/partner/v1/tickets/{onward_id}")).json()
    assert detail["journey"] == journey["others"]
    back = (await first_worker.get(f"/api/partner/v1/tickets/{shared['ticket_id']}/journey")).json()
    assert [(s["service"], s["status"]) for s in back["others"]] == [(onward["service"], "requested")]
    # Another organisation's ticket stays "no such ticket", journey or not.
    assert (await first_worker.get(f"/api/partner/v1/tickets/{onward_id}/journey")).status_code == 404


async def test_the_same_caller_on_a_new_call_joins_their_journey_only_with_consent(harness, sim):  # noqa: F811
    await load_demo_directory(harness)
    ca = await service_id(harness, "ca-money")
    session_id, sam, caller = await session_on_a_call(harness, sim)
    first = (await transfer(sam, session_id, ca, share_journey=True)).json()
    await hang_up(sim, caller)
    harness.clock.advance(days=2)
    again_id, _, caller = await session_on_a_call(harness, sim, sam)  # the same number rings again
    without = (await transfer(sam, again_id, ca)).json()
    assert without["journey_id"] != first["journey_id"]
    await hang_up(sim, caller)
    harness.clock.advance(days=1)
    third_id, _, _ = await session_on_a_call(harness, sim, sam)
    joined = (await transfer(sam, third_id, ca, share_journey=True)).json()
    assert joined["journey_id"] == first["journey_id"]


# Polling


async def test_polling_pages_through_changes_in_a_stable_order(harness):
    organisations = await load_demo_directory(harness)
    ca = await service_id(harness, "ca-money")
    session_id, sam = await logged_session(harness)
    made = [(await transfer(sam, session_id, ca)).json()["ticket_id"] for _ in range(3)]  # all at one instant
    harness.clock.advance(minutes=5)
    later = (await transfer(sam, session_id, ca)).json()["ticket_id"]
    worker = await partner(harness, organisations)
    # A change is listed once it is 30 seconds old: one still being saved is never skipped.
    assert [t["ticket_id"] for t in (await worker.get("/api/partner/v1/tickets")).json()["tickets"]] == made
    harness.clock.advance(seconds=30)

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {"updated_since": "2026-11-23T00:00:00Z"})
        page = (await worker.get("/api/partner/v1/tickets", params=params)).json()
        seen += [t["ticket_id"] for t in page["tickets"]]
        cursor, pages = page["next_cursor"], pages + 1
        if not page["more"]:
            break
    assert seen == [*made, later] and pages == 2
    assert "contact_number" not in page["tickets"][0] and "shared_summary" not in page["tickets"][0]

    # Nothing new: the kept cursor answers an empty page and hands itself back.
    idle = (await worker.get("/api/partner/v1/tickets", params={"cursor": cursor})).json()
    assert idle == {"tickets": [], "next_cursor": cursor, "more": False}
    # A change (an amendment) brings the ticket back after the cursor.
    harness.clock.advance(minutes=1)
    await sam.post(f"/api/helpline/tickets/{made[1]}/amendments", json={"detail": "prefers a woman caller"})
    harness.clock.advance(seconds=30)
    changed = (await worker.get("/api/partner/v1/tickets", params={"cursor": cursor})).json()
    assert [(t["ticket_id"], t["amendment_version"]) for t in changed["tickets"]] == [(made[1], 1)]
    since = "2026-11-23T20:05:00+00:00"  # an unescaped "+" arrives as a space: still understood
    recent = (await worker.get(f"/api/partner/v1/tickets?updated_since={since}")).json()
    assert [t["ticket_id"] for t in recent["tickets"]] == [later, made[1]]

    # Another organisation polls and sees none of these.
    mind = await partner(harness, organisations, "mind-in-somerset", "mind-worker")
    assert (await mind.get("/api/partner/v1/tickets")).json()["tickets"] == []


async def test_polling_refuses_what_it_cannot_read(harness):
    organisations = await load_demo_directory(harness)
    worker = await partner(harness, organisations)
    for params, field in [
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"updated_since": "2026-11-23T20:00:00"}, "updated_since"),  # which time zone?
        ({"updated_since": "2026-13-40T25:00:00Z"}, "updated_since"),
        ({"updated_since": "0001-01-01T00:00:00+05:00"}, "updated_since"),  # before UTC has a year 1
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"2026-11-23T20:00:00+00:00|99999999999999").decode()}, "cursor"),
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
    ]:
        answer = await worker.get("/api/partner/v1/tickets", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert field in json.dumps(answer.json()["detail"]), (params, answer.text)
    _, sam = await logged_session(harness)
    assert (await sam.get("/api/partner/v1/tickets")).status_code == 403


async def test_the_listener_s_night_and_the_ticket_say_how_each_transfer_ended(harness, sim):  # noqa: F811
    await load_demo_directory(harness)
    session_id, sam, _ = await session_on_a_call(harness, sim)
    ca = await service_id(harness, "ca-money")
    ticket_id = (await transfer(sam, session_id, ca)).json()["ticket_id"]
    worker = await worker_for(harness, ca, "ca-worker")
    for action, body in [
        ("accept", {}),
        ("confirm-contact", {}),
        ("complete", {"outcome": "rent plan agreed", "outcome_code": "ongoing-support"}),
    ]:
        assert (await worker.post(f"/api/partner/v1/tickets/{ticket_id}/{action}", json=body)).status_code == 200
    mine = (await sam.get(f"/api/helpline/tickets/{ticket_id}")).json()
    assert (mine["outcome_code"], mine["outcome_words"], mine["taken_back"]) == (
        "ongoing-support",
        "Ongoing support",
        False,
    )
    [night] = (await sam.get("/api/listener/tonight")).json()
    assert [(t["ticket_id"], t["outcome_words"]) for t in night["transfers"]] == [(ticket_id, "Ongoing support")]


async def test_a_caller_s_export_carries_the_amendments_and_their_erasure_removes_them(harness, sim):  # noqa: F811
    await load_demo_directory(harness)
    ca = await service_id(harness, "ca-money")
    session_id, sam, _ = await session_on_a_call(harness, sim)
    ticket_id = (await transfer(sam, session_id, ca)).json()["ticket_id"]
    await sam.post(f"/api/helpline/tickets/{ticket_id}/amendments", json={"detail": "sleeps in the car some nights"})
    worker = await worker_for(harness, ca, "ca-worker")
    declined = await worker.post(
        f"/api/partner/v1/tickets/{ticket_id}/decline",
        json={"reason": "outside our area", "outcome_code": "not-eligible", "reroute": "helpline"},
    )
    assert declined.status_code == 200
    await harness.add_user("root", "admin")
    admin = await harness.signed_in("root")
    export = (await admin.post("/api/admin/callers/export", json={"number": CALLER_NUMBER})).json()
    [sent] = export["warm_transfers"]
    assert sent["amendments"][0]["changes"]["detail"]["after"] == "sleeps in the car some nights"
    erased = await admin.post("/api/admin/callers/erase", json={"number": CALLER_NUMBER, "confirm": True})
    assert erased.status_code == 200 and erased.json()["erased"]["warm_transfers"] == 1
    assert await rows(harness, TicketAmendment) == []
