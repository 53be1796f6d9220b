"""/fhir/R4 Tasks, on SQLite and PostgreSQL: paged with ``_count`` and a ``next`` link that stays
stable while Tasks change; each read carrying its version (meta.versionId and an ETag) so a case
system's PATCH with If-Match is refused (412, an OperationOutcome, nothing moved) once someone
else changed the Task; and a contained Consent saying what the caller agreed to share."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.task import Task

from app.core.db import session_scope
from app.core.security import create_api_key
from tests.conftest import load_demo_directory
from tests.scenarios import logged_session, service_id, transfer

FHIR = "application/fhir+json"
PATCH = "application/json-patch+json"


async def _case_system(harness, tickets: int = 1, apart: int = 1):
    """``tickets`` warm transfers to Citizens Advice ``apart`` minutes apart, their ids, the
    listener who made them and a client with Citizens Advice's API key."""
    organisations = await load_demo_directory(harness)
    session_id, sam = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    made = []
    for _ in range(tickets):
        made.append((await transfer(sam, session_id, ca)).json()["ticket_id"])
        harness.clock.advance(minutes=apart)
    async with session_scope(harness.runtime) as session:
        key = await create_api_key(session, organisation_id=organisations["citizens-advice"], name="case system")
    system = harness.client(headers={"Authorization": f"Bearer {key.plaintext}"})
    return made, sam, system


def _status(status: str, **extra) -> list[dict]:
    ops = [{"op": "replace", "path": "/status", "value": status}]
    return ops + [{"op": "add", "path": path, "value": value} for path, value in extra.items()]


def _next(bundle: dict) -> str | None:
    return next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)


def _ids(bundle: dict) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


async def _all_pages(system, first: str, params: dict | None = None) -> list[list[str]]:
    pages, response = [], await system.get(first, params=params)
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        Bundle.model_validate(bundle)
        pages.append(_ids(bundle))
        url = _next(bundle)
        if url is None:
            return pages
        response = await system.get(url)


async def test_count_pages_with_a_next_link_until_the_last(harness):
    made, _, system = await _case_system(harness, tickets=5)
    async with system:
        first = await system.get("/fhir/R4/Task", params={"_count": 2, "status": "requested"})
        bundle = first.json()
        assert bundle["total"] == 5 and _ids(bundle) == [str(t) for t in made[:2]]
        relations = {link["relation"]: link["url"] for link in bundle["link"]}
        assert set(relations) == {"self", "next"}
        query = parse_qs(urlsplit(relations["next"]).query)
        assert query["_count"] == ["2"] and query["status"] == ["requested"]  # the search goes on as asked
        pages = await _all_pages(system, "/fhir/R4/Task", {"_count": 2, "status": "requested"})
        assert pages == [[str(t) for t in made[:2]], [str(t) for t in made[2:4]], [str(made[4])]]
        exactly = await _all_pages(system, "/fhir/R4/Task", {"_count": 5})
        assert exactly == [[str(t) for t in made]]  # a full last page says so: no next link


async def test_a_task_that_changes_while_paging_is_not_missed_and_nothing_shifts(harness):
    made, _, system = await _case_system(harness, tickets=4)
    async with system:
        first = (await system.get("/fhir/R4/Task", params={"_count": 2})).json()
        assert _ids(first) == [str(made[0]), str(made[1])]
        # The first Task on the page already read changes: it moves to the end of the order.
        harness.clock.advance(minutes=1)
        assert (await system.patch(f"/fhir/R4/Task/{made[0]}", json=_status("accepted"))).status_code == 200
        rest = await _all_pages(system, _next(first))
        # An offset would have skipped made[2]; the cursor carries on after made[1].
        assert rest == [[str(made[2]), str(made[3])], [str(made[0])]]


async def test_tasks_changed_at_the_same_instant_page_one_by_one_in_id_order(harness):
    made, _, system = await _case_system(harness, tickets=3, apart=0)
    async with system:
        assert await _all_pages(system, "/fhir/R4/Task", {"_count": 1}) == [[str(t)] for t in made]


async def test_a_page_token_that_is_not_one_is_a_400_operation_outcome(harness):
    _, _, system = await _case_system(harness)
    async with system:
        for token in ["nonsense", "bm90IGEgdG9rZW4", "MjAyNi0xMi0wMVQwMDowMDowMHx4"]:
            response = await system.get("/fhir/R4/Task", params={"_page_token": token})
            assert response.status_code == 400, (token, response.text)
            assert response.headers["content-type"].startswith(FHIR)
            assert OperationOutcome.model_validate(response.json()).issue[0].code == "invalid"


async def test_a_read_carries_its_version_and_each_move_makes_a_new_one(harness):
    [ticket], _, system = await _case_system(harness)
    async with system:
        read = await system.get(f"/fhir/R4/Task/{ticket}")
        assert read.headers["etag"] == 'W/"1"' and Task.model_validate(read.json()).meta.versionId == "1"
        moved = await system.patch(
            f"/fhir/R4/Task/{ticket}", json=_status("accepted"), headers={"If-Match": 'W/"1"', "Content-Type": PATCH}
        )
        assert moved.status_code == 200, moved.text
        assert moved.headers["etag"] == 'W/"2"' and moved.json()["meta"]["versionId"] == "2"
        searched = (await system.get("/fhir/R4/Task")).json()
        assert searched["entry"][0]["resource"]["meta"]["versionId"] == "2"
        # A move through the partner API is a new version too.
        assert (await system.post(f"/api/partner/v1/tickets/{ticket}/contact-attempt")).status_code == 200
        assert (await system.get(f"/fhir/R4/Task/{ticket}")).headers["etag"] == 'W/"3"'
        statement = (await system.get("/fhir/R4/metadata")).json()
        assert statement["rest"][0]["resource"][0]["versioning"] == "versioned-update"


async def test_a_patch_on_a_stale_version_is_412_and_nothing_moves(harness):
    [ticket], sam, system = await _case_system(harness)
    async with system:
        read = await system.get(f"/fhir/R4/Task/{ticket}")
        seen = read.headers["etag"]
        # Meanwhile the helpline withdraws the warm transfer.
        cancelled = await sam.post(f"/api/helpline/tickets/{ticket}/cancel", json={"reason": "consent withdrawn"})
        assert cancelled.status_code == 200, cancelled.text
        stale = await system.patch(f"/fhir/R4/Task/{ticket}", json=_status("accepted"), headers={"If-Match": seen})
        assert stale.status_code == 412 and stale.headers["content-type"].startswith(FHIR)
        [issue] = OperationOutcome.model_validate(stale.json()).issue
        assert issue.code == "conflict" and "version 1; it is now 2" in issue.diagnostics
        now = await system.get(f"/fhir/R4/Task/{ticket}")
        assert now.json()["status"] == "cancelled" and now.headers["etag"] == 'W/"2"'

        # Two case systems read version 1 of an on-hold Task and both record a failed attempt:
        # the state table allows on-hold -> on-hold, so only If-Match stops the second overwriting.
        [second], _, _ = await _second_ticket(harness, sam)
        await system.patch(f"/fhir/R4/Task/{second}", json=_status("accepted"))
        await system.patch(f"/fhir/R4/Task/{second}", json=_status("on-hold"))
        both_read = (await system.get(f"/fhir/R4/Task/{second}")).headers["etag"]
        first = await system.patch(f"/fhir/R4/Task/{second}", json=_status("on-hold"), headers={"If-Match": both_read})
        again = await system.patch(f"/fhir/R4/Task/{second}", json=_status("on-hold"), headers={"If-Match": both_read})
        assert (first.status_code, again.status_code) == (200, 412)
        detail = (await system.get(f"/api/partner/v1/tickets/{second}")).json()
        assert detail["contact_attempts"] == 2  # the first PATCH's attempt and the earlier one, no more


async def _second_ticket(harness, sam):
    session_id, _ = await logged_session(harness, "kim")
    kim = await harness.signed_in("kim")
    ticket = (await transfer(kim, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    return [ticket], kim, sam


@pytest.mark.parametrize("value", ['"abc"', "W/1", "*", 'W/"1", W/"2"', "x" * 41])
async def test_an_if_match_that_is_not_an_etag_is_a_400(harness, value):
    [ticket], _, system = await _case_system(harness)
    async with system:
        response = await system.patch(f"/fhir/R4/Task/{ticket}", json=_status("accepted"), headers={"If-Match": value})
        assert response.status_code == 400, response.text
        assert OperationOutcome.model_validate(response.json()).issue[0].code == "invalid"
        assert (await system.get(f"/fhir/R4/Task/{ticket}")).json()["status"] == "requested"


async def test_the_task_carries_a_consent_saying_what_the_caller_agreed_to_share(harness):
    [ticket], sam, system = await _case_system(harness)
    async with system:
        body = (await system.get(f"/fhir/R4/Task/{ticket}")).json()
        task = Task.model_validate(body)
        contained = {c.get_resource_type(): c for c in task.contained}
        consent = Consent.model_validate(contained["Consent"].model_dump())
        assert consent.status == "active" and consent.patient.reference == "#caller"
        assert consent.scope.coding[0].code == "patient-privacy" and consent.policyRule.coding[0].code == "OPTIN"
        assert consent.category[0].coding[0].code == "59284-0"
        assert consent.provision.type == "permit"
        assert consent.provision.actor[0].reference.reference == task.owner.reference  # shared with them only
        assert consent.provision.code[0].text == "needs, summary and number"  # as the listener recorded it
        assert consent.provision.provision[0].type == "deny"  # no texts: the caller did not say yes to them
        assert consent.dateTime is not None and "meta" not in body["contained"][2]  # contained: no version of its own
        request = contained["ServiceRequest"]
        assert request.supportingInfo[0].reference == "#consent"

        await sam.post(f"/api/helpline/tickets/{ticket}/cancel", json={"reason": "consent withdrawn"})
        withdrawn = (await system.get(f"/fhir/R4/Task/{ticket}")).json()
        assert withdrawn["contained"][2]["status"] == "inactive"
