"""Every read of a caller's personal data is audited, by staff as by partners, on SQLite and
PostgreSQL: the listener's own safeguarding reads, a call log as recorded, earlier contacts, a
partner's answer after an action; and each is found by the admin's search by person and by
caller, a ring-back's own session included."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from tests.conftest import load_demo_directory
from tests.scenarios import GOOD, answered, hang_up, listener, partner, service_id, transfer, voicemail_claimed

ALEX, BEA = "+447700900501", "+447700900502"
SEARCH = "/api/admin/audit/personal-data"


async def _trail(harness, subject_type: str | None = None) -> list[tuple[str, str, str]]:
    """(actor, action, subject type) of every audit row, oldest first."""
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id)
    if subject_type is not None:
        stmt = stmt.where(AuditEvent.subject_type == subject_type)
    async with session_scope(harness.runtime) as session:
        return [(e.actor, e.action, e.subject_type) for e in (await session.scalars(stmt)).all()]


async def _admin(harness):
    await harness.add_user("admin", "admin")
    return await harness.signed_in("admin")


async def _search(admin, **params) -> list[tuple[str, str]]:
    found = await admin.get(SEARCH, params=params)
    assert found.status_code == 200, found.text
    return [(r["actor"], r["action"]) for r in found.json()]


async def test_the_listeners_own_safeguarding_reads_are_audited(harness, sim):
    _, sam = await listener(harness, display_name="Sam")
    _, card = await answered(harness, sim, sam, ALEX)
    flagged = await sam.post("/api/listener/calls/current/immediate-risk")
    assert flagged.status_code == 201
    record_id = flagged.json()["id"]
    await sam.patch(f"/api/helpline/safeguarding/{record_id}", json={"concern": "plans tonight", "location": "home"})
    assert await _trail(harness, "safeguarding_record") == [
        ("user:sam", "flag_immediate_risk", "safeguarding_record"),
        ("user:sam", "update_safeguarding_record", "safeguarding_record"),
    ]  # each write's own row stands for the record it answered

    shown = await sam.get(f"/api/listener/calls/{card['call_id']}/immediate-risk")
    assert shown.status_code == 200 and shown.json()["concern"] == "plans tonight"
    again = await sam.post("/api/listener/calls/current/immediate-risk")  # a second press answers the record
    assert again.json()["location"] == "home"
    read = await sam.get(f"/api/helpline/safeguarding/{record_id}")
    assert read.status_code == 200
    reads = [row for row in await _trail(harness, "safeguarding_record") if row[1] == "read_safeguarding_record"]
    assert reads == [("user:sam", "read_safeguarding_record", "safeguarding_record")] * 3

    admin = await _admin(harness)
    by_sam = await _search(admin, actor="sam")
    assert by_sam[0] == ("user:sam", "read_safeguarding_record") and len(by_sam) == 5
    assert len(await _search(admin, caller_number=ALEX)) == 5
    assert await _search(admin, caller_number=BEA) == []


async def test_a_call_without_a_flag_has_nothing_read_and_nothing_audited(harness, sim):
    _, sam = await listener(harness, display_name="Sam")
    _, card = await answered(harness, sim, sam, ALEX)
    nothing = await sam.get(f"/api/listener/calls/{card['call_id']}/immediate-risk")
    assert nothing.status_code == 200 and nothing.json() is None
    assert await _trail(harness, "safeguarding_record") == []


async def test_a_call_log_as_recorded_and_a_second_submit_are_audited(harness, sim):
    await load_demo_directory(harness)
    _, sam = await listener(harness, display_name="Sam")
    _, card = await answered(harness, sim, sam, ALEX)
    path = f"/api/listener/sessions/{card['id']}/log"
    first = await sam.post(path, json=GOOD)
    assert first.status_code == 201 and first.json()["summary"] == GOOD["summary"]
    double = await sam.post(path, json=GOOD)  # a double click answers the log already stored
    assert double.status_code == 201 and double.json()["revision"] == 1
    corrected = await sam.post(
        f"{path}/revisions", json=GOOD | {"summary": "Behind on rent since April", "correction_reason": "misheard"}
    )
    assert corrected.status_code == 201, corrected.text
    rows = [
        (actor, action) for actor, action, _ in await _trail(harness) if action.endswith("call_log") or "read" in action
    ]
    assert rows == [
        ("user:sam", "record_call_log"),
        ("user:sam", "read_personal_data"),
        ("user:sam", "correct_call_log"),
    ]
    admin = await _admin(harness)
    assert await _search(admin, caller_number=ALEX) == [
        ("user:sam", "correct_call_log"),
        ("user:sam", "read_personal_data"),
        ("user:sam", "record_call_log"),
    ]
    audit_text = str(await admin.get("/api/admin/audit"))
    assert "April" not in audit_text and "rent" not in audit_text  # who and what, never the words


async def test_earlier_contacts_shown_to_a_listener_are_audited(harness, sim):
    await load_demo_directory(harness)
    _, sam = await listener(harness, display_name="Sam")
    caller, first = await answered(harness, sim, sam, ALEX)
    assert (await sam.post(f"/api/listener/sessions/{first['id']}/log", json=GOOD)).status_code == 201
    none_yet = await sam.get(f"/api/listener/sessions/{first['id']}/repeat-caller")
    assert none_yet.json()["matched"] is False
    assert [a for _, a, _ in await _trail(harness) if a == "read_personal_data"] == []  # nothing shown
    await hang_up(sim, caller)

    caller, second = await answered(harness, sim, sam, ALEX)
    earlier = await sam.get(f"/api/listener/sessions/{second['id']}/repeat-caller")
    assert earlier.json()["matched"] is True and earlier.json()["contacts"][0]["title"] == GOOD["title"]
    async with session_scope(harness.runtime) as session:
        [read] = (await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "read_personal_data"))).all()
    assert (read.actor, read.subject_type, read.subject_id) == ("user:sam", "support_session", second["id"])
    assert read.detail == {"shown": "earlier_contacts"}
    admin = await _admin(harness)
    assert ("user:sam", "read_personal_data") in await _search(admin, caller_number=ALEX)


async def test_a_partners_answer_after_an_action_is_audited_as_a_read(harness, sim):
    organisations = await load_demo_directory(harness)
    _, sam = await listener(harness, display_name="Sam")
    _, card = await answered(harness, sim, sam, ALEX)
    assert (await sam.post(f"/api/listener/sessions/{card['id']}/log", json=GOOD)).status_code == 201
    made = await transfer(sam, card["id"], await service_id(harness, "ca-money"))
    ticket_id = made.json()["ticket_id"]
    worker = await partner(harness, organisations)
    accepted = await worker.post(f"/api/partner/v1/tickets/{ticket_id}/accept")
    assert accepted.status_code == 200 and accepted.json()["caller_name"] == "Jamie"
    assert [row for row in await _trail(harness, "transfer_ticket") if row[1] == "read_caller_details"] == [
        ("user:ca-worker", "read_caller_details", "transfer_ticket")
    ]
    admin = await _admin(harness)
    assert await _search(admin, actor="ca-worker") == [("user:ca-worker", "read_caller_details")]
    assert ("user:ca-worker", "read_caller_details") in await _search(admin, caller_number=ALEX)


async def test_a_ring_backs_own_session_is_the_callers_found_exported_and_searched(harness, sim):
    await load_demo_directory(harness)
    _, sam, callback_id = await voicemail_claimed(harness, sim, number=ALEX)
    started = await sam.post(f"/api/listener/callbacks/{callback_id}/session")
    assert started.status_code == 201, started.text
    session_id = started.json()["id"]
    log = GOOD | {"summary": "Rang back: rent plan agreed", "outcome": "supported"}
    assert (await sam.post(f"/api/listener/sessions/{session_id}/log", json=log)).status_code == 201
    assert (await sam.get(f"/api/listener/sessions/{session_id}/log")).status_code == 200
    admin = await _admin(harness)
    about_alex = await _search(admin, caller_number=ALEX)
    assert ("user:sam", "read_personal_data") in about_alex and ("user:sam", "record_call_log") in about_alex
    found = (await admin.post("/api/admin/callers/find", json={"number": ALEX})).json()
    assert found["counts"]["support_session"] == 1 and found["counts"]["call_log"] == 1
    export = (await admin.post("/api/admin/callers/export", json={"number": ALEX})).json()
    assert [entry["summary"] for entry in export["call_logs"]] == ["Rang back: rent plan agreed"]
    erased = await admin.post("/api/admin/callers/erase", json={"number": ALEX, "confirm": True})
    assert erased.json()["erased"]["call_log_revisions"] == 1
    export_after = await admin.post("/api/admin/callers/find", json={"number": ALEX})
    assert export_after.status_code == 404  # the number is gone with the rest
