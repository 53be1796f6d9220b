"""/fhir/R4: a partner's case system reads its warm-transfer tickets as FHIR Tasks."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.task import Task

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.core.events import LiveEvent
from app.core.security import User, create_api_key
from tests.conftest import load_demo_directory
from tests.scenarios import TRANSFER_NUMBER, logged_session, partner, service_id, transfer
from transfers.tickets.models import TicketEvent, TransferTicket

FHIR = "application/fhir+json"


async def _two_tickets(harness):
    """A warm transfer to Citizens Advice with the caller's name and number, and one to Mind."""
    organisations = await load_demo_directory(harness)
    session_id, sam = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    mind = await service_id(harness, "mind-safe-space")
    ours = (await transfer(sam, session_id, ca)).json()["ticket_id"]
    harness.clock.advance(minutes=5)
    theirs = (await transfer(sam, session_id, mind, urgent=False)).json()["ticket_id"]
    return organisations, sam, ours, theirs


async def _audited_reads(harness, ticket_id):
    async with session_scope(harness.runtime) as session:
        return (
            await session.scalars(
                sa.select(AuditEvent).where(
                    AuditEvent.action == "read_caller_details", AuditEvent.subject_id == ticket_id
                )
            )
        ).all()


def _task(body):
    task = Task.model_validate(body)
    return task, {c.get_resource_type(): c for c in task.contained}


async def test_a_ticket_reads_as_a_valid_task_with_what_the_caller_shared(harness):
    organisations, _, ours, _ = await _two_tickets(harness)
    worker = await partner(harness, organisations)

    response = await worker.get(f"/fhir/R4/Task/{ours}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR)
    task, contained = _task(response.json())
    assert (task.id, task.status, task.intent) == (str(ours), "requested", "order")
    assert task.businessStatus.text == "requested"
    assert task.owner.reference == f"Organization/{organisations['citizens-advice']}"
    assert task.focus.reference == "#request" and task.authoredOn and task.lastModified
    request, patient = contained["ServiceRequest"], contained["Patient"]
    assert (request.status, request.intent, request.subject.reference) == ("active", "order", "#caller")
    assert patient.name[0].text == "Jamie" and patient.telecom[0].value == TRANSFER_NUMBER
    assert len(await _audited_reads(harness, ours)) == 1

    # Moves made through the partner API show as the Task's status.
    assert (await worker.post(f"/api/partner/v1/tickets/{ours}/accept")).status_code == 200
    assert (await worker.post(f"/api/partner/v1/tickets/{ours}/confirm-contact")).status_code == 200
    task, _ = _task((await worker.get(f"/fhir/R4/Task/{ours}")).json())
    assert task.status == "in-progress" and task.businessStatus.text == "in-progress: handover confirmed"


async def test_nothing_about_the_caller_beyond_what_they_agreed_to_share(harness):
    organisations = await load_demo_directory(harness)
    session_id, sam = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    made = await transfer(sam, session_id, ca, caller_name=None)
    assert made.status_code == 201, made.text
    worker = await partner(harness, organisations)

    body = (await worker.get(f"/fhir/R4/Task/{made.json()['ticket_id']}")).json()
    _, contained = _task(body)
    patient = contained["Patient"]
    assert patient.name is None and patient.telecom[0].value == TRANSFER_NUMBER
    assert "Jamie" not in str(body) and "Behind on rent" not in str(body)  # no summary in a Task

    # A ticket that carries nothing of the caller's (none was agreed): an empty Patient.
    async with session_scope(harness.runtime) as session:
        ticket = TransferTicket(**(await _bare_ticket(session, harness, ca)))
        session.add(ticket)
        await session.flush()
        bare = ticket.id
    body = (await worker.get(f"/fhir/R4/Task/{bare}")).json()
    _, contained = _task(body)
    assert set(body["contained"][1]) == {"resourceType", "id"}
    assert contained["Patient"].name is None and contained["Patient"].telecom is None


async def _bare_ticket(session, harness, service):
    now = harness.clock.now()
    user = await session.scalar(sa.select(User).where(User.username == "sam"))
    return dict(
        service_id=service,
        created_by=user.id,
        status="requested",
        needs=["money"],
        risk_level="low",
        consent_covers="needs only",
        consent_recorded_at=now,
        consent_recorded_by=user.id,
        accept_by=now + timedelta(hours=16),
        contact_by=now + timedelta(hours=40),
        created_at=now,
        updated_at=now,
    )


async def test_another_organisations_task_is_404_word_for_word_as_one_never_made(harness):
    organisations, _, ours, theirs = await _two_tickets(harness)
    worker = await partner(harness, organisations)

    other = await worker.get(f"/fhir/R4/Task/{theirs}")
    never = await worker.get(f"/fhir/R4/Task/{2**31 - 1}")
    assert other.status_code == never.status_code == 404
    assert other.json() == never.json() and other.headers["content-type"].startswith(FHIR)
    assert OperationOutcome.model_validate(other.json()).issue[0].code == "not-found"
    assert (await worker.get("/fhir/R4/Task/abc")).status_code == 404
    assert (await worker.get(f"/fhir/R4/Task/{2**64}")).status_code == 404
    assert await _audited_reads(harness, theirs) == []
    # Searching for another organisation's Tasks finds none, rather than saying whether any exist.
    mind = organisations["mind-in-somerset"]
    bundle = (await worker.get("/fhir/R4/Task", params={"owner": f"Organization/{mind}"})).json()
    assert bundle["total"] == 0


async def test_search_by_last_updated_status_and_owner_with_an_api_key(harness):
    organisations, sam, ours, _ = await _two_tickets(harness)
    ca = await service_id(harness, "ca-money")
    session_id, alex = await logged_session(harness, "alex")
    async with session_scope(harness.runtime) as session:
        key = await create_api_key(session, organisation_id=organisations["citizens-advice"], name="case system")
    async with harness.client(headers={"Authorization": f"Bearer {key.plaintext}"}) as system:
        harness.clock.advance(minutes=10)
        later = (await transfer(alex, session_id, ca)).json()["ticket_id"]
        since = (harness.clock.now() - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")

        everything = await system.get("/fhir/R4/Task")
        assert everything.status_code == 200 and everything.headers["content-type"].startswith(FHIR)
        bundle = Bundle.model_validate(everything.json())
        assert bundle.type == "searchset"
        assert [e.resource.id for e in bundle.entry] == [str(ours), str(later)]  # only its own, oldest change first
        assert all(isinstance(e.resource, Task) for e in bundle.entry)

        recent = (await system.get("/fhir/R4/Task", params={"_lastUpdated": f"ge{since}"})).json()
        assert [e["resource"]["id"] for e in recent["entry"]] == [str(later)]
        moment = everything.json()["entry"][1]["resource"]["meta"]["lastUpdated"]
        assert (await system.get("/fhir/R4/Task", params={"_lastUpdated": f"gt{moment}"})).json()["total"] == 0
        assert (await system.get("/fhir/R4/Task", params={"_lastUpdated": f"ge{moment}"})).json()["total"] == 1

        assert (await system.post(f"/api/partner/v1/tickets/{ours}/accept")).status_code == 200
        accepted = (await system.get("/fhir/R4/Task", params={"status": "accepted"})).json()
        assert [e["resource"]["id"] for e in accepted["entry"]] == [str(ours)]
        both = await system.get("/fhir/R4/Task", params={"status": "accepted,requested"})
        assert both.json()["total"] == 2

        own = f"Organization/{organisations['citizens-advice']}"
        assert (await system.get("/fhir/R4/Task", params={"owner": own})).json()["total"] == 2
        first = (await system.get("/fhir/R4/Task", params={"_count": 1})).json()
        assert len(first["entry"]) == 1 and first["total"] == 2
    # Every Task handed out carried the caller's details: each read audited, as the partner API's are.
    assert {e.actor for e in await _audited_reads(harness, later)} == {f"apikey:{key.key.prefix}"}


async def test_bad_searches_and_strangers_get_an_operation_outcome(harness):
    organisations, sam, _, _ = await _two_tickets(harness)
    worker = await partner(harness, organisations)
    for params in [
        {"_lastUpdated": "2026-12-01"},
        {"_lastUpdated": "lt2026-12-01T00:00:00Z"},
        {"_lastUpdated": "genot-a-date"},
        {"_lastUpdated": "ge2026-12-01T00:00:00"},
        {"status": "sent-by-owl"},
        {"status": ","},
        {"owner": "Organization/x"},
        {"owner": "Organization/" + "9" * 30},
        {"_count": 0},
        {"_count": 101},
        {"status": "a" * 201},
    ]:
        response = await worker.get("/fhir/R4/Task", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"].startswith(FHIR)
        assert OperationOutcome.model_validate(response.json()).issue[0].code == "invalid", params

    async with harness.client() as stranger:
        response = await stranger.get("/fhir/R4/Task")
        assert response.status_code == 401
        assert OperationOutcome.model_validate(response.json()).issue[0].code == "login"
    async with harness.client(headers={"Authorization": "Bearer nope"}) as wrong_key:
        assert (await wrong_key.get("/fhir/R4/Task/1")).status_code == 401
    listener_reply = await sam.get("/fhir/R4/Task")
    assert listener_reply.status_code == 403
    assert OperationOutcome.model_validate(listener_reply.json()).issue[0].code == "forbidden"


async def test_the_capability_statement_names_the_task_interactions_and_searches(harness):
    async with harness.client() as anyone:
        response = await anyone.get("/fhir/R4/metadata")
    assert response.status_code == 200 and response.headers["content-type"].startswith(FHIR)
    statement = CapabilityStatement.model_validate(response.json())
    [task] = statement.rest[0].resource
    assert task.type == "Task"
    assert {i.code for i in task.interaction} == {"read", "search-type", "patch"}
    assert {p.name for p in task.searchParam} >= {"_lastUpdated", "status", "owner"}


def _patch(status, **extra):
    ops = [{"op": "replace", "path": "/status", "value": status}]
    return ops + [{"op": "add", "path": path, "value": value} for path, value in extra.items()]


async def test_a_case_system_moves_a_task_through_the_state_table(harness):
    organisations, _, ours, theirs = await _two_tickets(harness)
    async with session_scope(harness.runtime) as session:
        key = await create_api_key(session, organisation_id=organisations["citizens-advice"], name="case system")
    headers = {"Authorization": f"Bearer {key.plaintext}", "Content-Type": "application/json-patch+json"}
    async with harness.client(headers=headers) as system:
        skipped = await system.patch(f"/fhir/R4/Task/{ours}", json=_patch("completed"))
        assert skipped.status_code == 409 and skipped.headers["content-type"].startswith(FHIR)
        [issue] = OperationOutcome.model_validate(skipped.json()).issue
        assert issue.code == "conflict" and "the Task is requested" in issue.diagnostics

        accepted = await system.patch(f"/fhir/R4/Task/{ours}", json=_patch("accepted"))
        assert accepted.status_code == 200, accepted.text
        assert Task.model_validate(accepted.json()).status == "accepted"
        tried = await system.patch(f"/fhir/R4/Task/{ours}", json=_patch("on-hold"))
        assert Task.model_validate(tried.json()).status == "on-hold"
        reached = await system.patch(f"/fhir/R4/Task/{ours}", json=_patch("in-progress"))
        assert Task.model_validate(reached.json()).businessStatus.text == "in-progress: handover confirmed"
        no_outcome = await system.patch(f"/fhir/R4/Task/{ours}", json=_patch("completed"))
        assert no_outcome.status_code == 422 and "/output/0/" in no_outcome.text
        helped = {"type": {"coding": [{"code": "ongoing-support"}]}, "valueString": "debt plan agreed"}
        done = await system.patch(f"/fhir/R4/Task/{ours}", json=_patch("completed", **{"/output": [helped]}))
        task = Task.model_validate(done.json())
        assert task.status == "completed" and task.output[0].valueString == "debt plan agreed"
        assert task.output[0].type.coding[0].code == "ongoing-support"  # the coded outcome beside the text
        closed = await system.patch(f"/fhir/R4/Task/{ours}", json=_patch("accepted"))
        assert closed.status_code == 409 and "nothing, it is closed" in closed.text

        # Another organisation's Task cannot be moved, nor is it confirmed to exist.
        assert (await system.patch(f"/fhir/R4/Task/{theirs}", json=_patch("accepted"))).status_code == 404
        for bad in [
            [{"op": "remove", "path": "/status"}],
            [{"op": "replace", "path": "/owner", "value": "x"}],
            [{"op": "replace", "path": "/status", "value": "teleported"}],
            [{"op": "add", "path": "/statusReason/text", "value": "no status"}],
            {"op": "replace"},
            _patch("rejected") * 5,
        ]:
            response = await system.patch(f"/fhir/R4/Task/{theirs}", json=bad)
            assert response.status_code == 400, (bad, response.text)
        not_json = await system.patch(f"/fhir/R4/Task/{ours}", content=b"{status: done")
        assert not_json.status_code == 400 and OperationOutcome.model_validate(not_json.json())
        huge = await system.patch(
            f"/fhir/R4/Task/{ours}", json=_patch("accepted", **{"/statusReason/text": "x" * 2_000_000})
        )
        # Refused by the app's body limit before any route runs (so in the project's error body).
        assert huge.status_code == 413, huge.text

    # The ticket's own trail came with each move, and the listener who made it was told of each.
    async with session_scope(harness.runtime) as session:
        trail = (
            await session.scalars(
                sa.select(TicketEvent.action).where(TicketEvent.ticket_id == ours).order_by(TicketEvent.id)
            )
        ).all()
        told = (
            await session.scalars(
                sa.select(LiveEvent.data)
                .where(LiveEvent.type == "ticket.changed", LiveEvent.audience.startswith("user:"))
                .order_by(LiveEvent.id)
            )
        ).all()
    assert trail == ["create", "accept", "attempt_failed", "confirm_contact", "complete"]
    assert [d["status"] for d in told if d["ticket_id"] == ours] == [
        "requested",
        "accepted",
        "on-hold",
        "in-progress",
        "completed",
    ]


async def test_a_declined_task_needs_its_reason_and_the_caller_is_re_routed(harness):
    organisations, _, ours, _ = await _two_tickets(harness)
    async with session_scope(harness.runtime) as session:
        key = await create_api_key(session, organisation_id=organisations["citizens-advice"], name="case system")
    async with harness.client(headers={"Authorization": f"Bearer {key.plaintext}"}) as system:
        silent = await system.patch(f"/fhir/R4/Task/{ours}", json=_patch("rejected"))
        assert silent.status_code == 422 and "/statusReason" in silent.text
        why = {"text": "at capacity", "coding": [{"code": "no-capacity"}]}
        declined = await system.patch(f"/fhir/R4/Task/{ours}", json=_patch("rejected", **{"/statusReason": why}))
        assert declined.status_code == 200, declined.text
        task = Task.model_validate(declined.json())
        assert task.status == "rejected" and "at capacity" in task.statusReason.text
        assert task.statusReason.coding[0].code == "no-capacity"
        assert task.contained[0].status == "revoked"  # the ServiceRequest ended without help
    async with session_scope(harness.runtime) as session:
        onward = await session.scalar(sa.select(TransferTicket).where(TransferTicket.rerouted_from_id == ours))
    assert onward is not None and onward.status == "requested"
