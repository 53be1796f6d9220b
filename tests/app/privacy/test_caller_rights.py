"""A caller's rights: found by the keyed hash of their number, exported (JSON and a printable
page), erased or restricted with what must be kept said, every step audited; another caller's
rows untouched; staff reads of personal data audited and searchable by person and by caller."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.helpline.models import CallLogRevision
from app.privacy.retention import run_retention
from app.shiftlead.models import SafeguardingRecord
from telephony.models import Call
from tests.conftest import load_demo_directory
from tests.scenarios import GOOD, answered, hang_up, listener, service_id, transfer

ALEX, BEA, CARO = "+447700900501", "+447700900502", "+447700900503"


async def _caller_logged(harness, sim, number: str, username: str, summary: str) -> dict:
    _, client = await listener(harness, username, display_name=username.title())
    caller, card = await answered(harness, sim, client, number)
    log = GOOD | {"summary": summary, "outcome": "supported"}
    assert (await client.post(f"/api/listener/sessions/{card['id']}/log", json=log)).status_code == 201
    await hang_up(sim, caller)
    return {"client": client, "session_id": card["id"]}


async def _line(harness, sim) -> dict:
    """Alex and Bea rang and were logged; Bea's also has a warm transfer (still open)."""
    await load_demo_directory(harness)
    alex = await _caller_logged(harness, sim, ALEX, "sam", "Alex: behind on rent since May")
    bea = await _caller_logged(harness, sim, BEA, "kim", "Bea: lonely since moving")
    made = await transfer(bea["client"], bea["session_id"], await service_id(harness, "ca-money"))
    assert made.status_code == 201, made.text
    await harness.add_user("admin", "admin")
    return {"alex": alex, "bea": bea, "admin": await harness.signed_in("admin")}


async def _call_of(harness, number: str) -> Call | None:
    async with session_scope(harness.runtime) as session:
        return await session.scalar(sa.select(Call).where(Call.from_hash == harness.runtime.crypto.caller_hash(number)))


async def _audit(harness, action: str) -> list[AuditEvent]:
    async with session_scope(harness.runtime) as session:
        return list((await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action))).all())


async def test_an_admin_finds_a_caller_by_their_number_in_any_form(harness, sim):
    line = await _line(harness, sim)
    found = await line["admin"].post("/api/admin/callers/find", json={"number": "07700 900501"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert [c["number"] for c in body["calls"]] == ["+44 ••• ••501"]
    assert body["counts"]["support_session"] == 1 and body["counts"]["transfer_ticket"] == 0
    assert body["kept_on_erasure"] == []
    [audit] = await _audit(harness, "find_caller_records")
    assert audit.actor == "user:admin" and audit.detail["caller_hash"] == harness.runtime.crypto.caller_hash(ALEX)


async def test_a_number_with_no_records_is_a_clear_404_and_a_withheld_one_a_422(harness, sim):
    line = await _line(harness, sim)
    for path in ("find", "export", "restrict", "erase"):
        body = {"number": "+447700900999", "confirm": True, "restricted": True}
        missing = await line["admin"].post(f"/api/admin/callers/{path}", json=body)
        assert missing.status_code == 404 and missing.json() == {
            "error": "no_records",
            "detail": "no records for that number",
        }
        withheld = await line["admin"].post(f"/api/admin/callers/{path}", json=body | {"number": "anonymous"})
        assert withheld.status_code == 422 and withheld.json()["detail"][0]["field"] == "number"
    assert await _audit(harness, "erase_caller_data") == []


async def test_the_export_has_everything_about_the_caller_and_nothing_of_another(harness, sim):
    line = await _line(harness, sim)
    export = await line["admin"].post("/api/admin/callers/export", json={"number": BEA})
    assert export.status_code == 200, export.text
    body = export.json()
    assert [c["number"] for c in body["calls"]] == [BEA]
    assert [log["summary"] for log in body["call_logs"]] == ["Bea: lonely since moving"]
    [ticket] = body["warm_transfers"]
    assert ticket["contact_number"] == "+447700900123" and ticket["caller_name"] == "Jamie" and ticket["trail"]
    assert "Alex" not in export.text and ALEX not in export.text
    page = await line["admin"].post("/admin/callers/export", data={"number": BEA})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Bea: lonely since moving" in page.text and "Alex" not in page.text
    assert len(await _audit(harness, "export_caller_data")) == 2


async def test_erasure_clears_one_caller_keeps_what_the_law_needs_and_touches_no_one_else(harness, sim):
    line = await _line(harness, sim)
    # Bea's warm transfer is still open: her call is kept, and the admin is told why.
    kept = await line["admin"].post("/api/admin/callers/erase", json={"number": BEA, "confirm": True})
    assert kept.status_code == 200
    assert kept.json()["erased"]["calls"] == 0
    assert "warm transfer is still open" in kept.json()["kept"][0]["why"]

    erased = await line["admin"].post("/api/admin/callers/erase", json={"number": ALEX, "confirm": True})
    assert erased.status_code == 200, erased.text
    assert erased.json() == {
        "erased": {"calls": 1, "call_log_revisions": 1, "warm_transfers": 0, "voicemails": 0},
        "kept": [],
    }
    assert await _call_of(harness, ALEX) is None
    again = await line["admin"].post("/api/admin/callers/find", json={"number": ALEX})
    assert again.status_code == 404
    # Bea: her number, her log and her warm transfer as they were.
    bea = await line["admin"].post("/api/admin/callers/export", json={"number": BEA})
    assert bea.json()["call_logs"][0]["summary"] == "Bea: lonely since moving"
    assert bea.json()["warm_transfers"][0]["contact_number"] == "+447700900123"
    async with session_scope(harness.runtime) as session:
        summaries = (await session.scalars(sa.select(CallLogRevision.summary_encrypted))).all()
        assert sorted(s is None for s in summaries) == [False, True]
        assert await session.scalar(sa.select(sa.func.count()).select_from(Call)) == 2  # counted for reports
    [audit] = [a for a in await _audit(harness, "erase_caller_data") if a.detail["erased"]["calls"]]
    assert audit.detail["erased"]["calls"] == 1 and audit.actor == "user:admin"


async def test_an_open_safeguarding_record_keeps_the_call_through_an_erasure(harness, sim):
    line = await _line(harness, sim)
    call = await _call_of(harness, ALEX)
    async with session_scope(harness.runtime) as session:
        session.add(
            SafeguardingRecord(
                call_id=call.id,
                flagged_by=call.listener_id,
                flagged_at=harness.clock.now(),
                concern_encrypted=harness.runtime.crypto.encrypt("a plan for tonight"),
                alerted=[],
                updated_at=harness.clock.now(),
            )
        )
    found = await line["admin"].post("/api/admin/callers/find", json={"number": ALEX})
    assert "safeguarding record is kept for at least 6 years" in found.json()["kept_on_erasure"][0]["why"]
    erased = await line["admin"].post("/api/admin/callers/erase", json={"number": ALEX, "confirm": True})
    assert erased.json()["erased"]["calls"] == 0 and erased.json()["kept"][0]["call_id"] == call.id
    assert (await _call_of(harness, ALEX)) is not None


async def test_a_restricted_caller_is_held_past_retention_until_lifted(harness, sim):
    line = await _line(harness, sim)
    held = await line["admin"].post(
        "/api/admin/callers/restrict", json={"number": ALEX, "restricted": True, "reason": "complaint"}
    )
    assert held.status_code == 200 and held.json()["calls"][0]["held_reason"] == "complaint"
    harness.clock.advance(days=400)
    assert (await run_retention(harness.runtime, dry_run=True))["call_records"] == 1  # Bea's, not Alex's
    admin = await harness.signed_in("admin")  # a year on: signed in afresh
    lifted = await admin.post("/api/admin/callers/restrict", json={"number": ALEX, "restricted": False})
    assert lifted.json()["calls"][0]["held"] is False
    assert (await run_retention(harness.runtime, dry_run=True))["call_records"] == 2
    assert len(await _audit(harness, "restrict_caller_data")) == 2


async def test_staff_reads_are_audited_and_searchable_by_person_and_by_caller(harness, sim):
    line = await _line(harness, sim)
    read = await line["alex"]["client"].get(f"/api/listener/sessions/{line['alex']['session_id']}/log")
    assert read.status_code == 200 and read.json()["summary"] == "Alex: behind on rent since May"
    [audit] = await _audit(harness, "read_personal_data")
    assert (audit.actor, audit.subject_type) == ("user:sam", "support_session")
    assert "Alex" not in str(audit.detail)  # the audit says who read what, never what it said

    search = "/api/admin/audit/personal-data"
    by_sam = (await line["admin"].get(search, params={"actor": "sam"})).json()
    # Newest first: the read, then the log as Sam recorded it (its answer carried the summary back).
    assert [(r["actor"], r["action"]) for r in by_sam] == [
        ("user:sam", "read_personal_data"),
        ("user:sam", "record_call_log"),
    ]
    await line["admin"].post("/api/admin/callers/find", json={"number": ALEX})
    about_alex = (await line["admin"].get(search, params={"caller_number": ALEX})).json()
    assert [r["action"] for r in about_alex] == ["find_caller_records", "read_personal_data", "record_call_log"]
    about_bea = (await line["admin"].get(search, params={"caller_number": BEA})).json()
    assert [(r["actor"], r["action"]) for r in about_bea] == [("user:kim", "record_call_log")]  # none of Alex's
    unknown = await line["admin"].get(search, params={"caller_number": "+447700900999"})
    assert unknown.status_code == 200 and unknown.json() == []
    # Erased, Alex has no records left; what was done about them is still found by their number.
    await line["admin"].post("/api/admin/callers/erase", json={"number": ALEX, "confirm": True})
    after = (await line["admin"].get(search, params={"caller_number": ALEX})).json()
    assert [r["action"] for r in after] == ["erase_caller_data", "find_caller_records"]


ROUTES = [
    ("post", "/api/admin/callers/find"),
    ("post", "/api/admin/callers/export"),
    ("post", "/admin/callers/export"),
    ("post", "/api/admin/callers/erase"),
    ("post", "/api/admin/callers/restrict"),
    ("get", "/api/admin/audit/personal-data"),
]


@pytest.mark.parametrize("role", ["listener", "supervisor", "partner", None])
async def test_only_admins_reach_a_callers_records(harness, sim, role):
    await load_demo_directory(harness)
    _, client = await listener(harness, "sam")
    caller, _ = await answered(harness, sim, client, ALEX)
    if role is None:
        other = harness.client()
    else:
        organisation = None
        if role == "partner":
            from transfers.directory.models import Organisation

            async with session_scope(harness.runtime) as session:
                organisation = await session.scalar(sa.select(Organisation.id).limit(1))
        await harness.add_user(f"a-{role}", role, organisation_id=organisation)
        other = await harness.signed_in(f"a-{role}")
    body = {"number": ALEX, "confirm": True, "restricted": True}
    for method, path in ROUTES:
        if path.startswith("/admin"):
            response = await other.post(path, data={"number": ALEX})
        else:
            response = await (other.get(path) if method == "get" else other.post(path, json=body))
        assert response.status_code == (401 if role is None else 403), (role, path, response.text)
    assert (await _call_of(harness, ALEX)).held_at is None
