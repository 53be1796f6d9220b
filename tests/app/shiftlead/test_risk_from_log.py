"""Immediate risk chosen in the call log, without the call card's button, opens the call's
safeguarding record and alerts supervisors, exactly once: not again on a correction, and not a
second record when the button had been pressed."""

import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.core.events import LiveEvent
from app.shiftlead.models import SafeguardingRecord
from tests.scenarios import answered, hang_up, on_a_call
from tests.telephony.conftest import listener, sim  # noqa: F401 - the simulator fixture

IMMEDIATE = {
    "contact_type": "support",
    "needs": [],
    "risk_level": "immediate",
    "consent_to_share": False,
    "title": "Said they had taken tablets",
    "summary": "Took tablets an hour ago",
    "outcome": "emergency-services",
}


async def flags(harness):
    async with session_scope(harness.runtime) as session:
        records = (await session.scalars(sa.select(SafeguardingRecord).order_by(SafeguardingRecord.id))).all()
        audits = (
            await session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "flag_immediate_risk").order_by(AuditEvent.id)
            )
        ).all()
        alerts = (
            await session.scalars(sa.select(LiveEvent).where(LiveEvent.type == "safeguarding").order_by(LiveEvent.id))
        ).all()
    return [r.id for r in records], [(a.actor, a.detail.get("via")) for a in audits], [e.data["state"] for e in alerts]


async def test_immediate_risk_in_the_log_alone_opens_the_record_and_alerts_supervisors_once(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    await hang_up(sim, caller)  # logged in wrap-up, as most are
    logged = await sam.post(f"/api/listener/sessions/{card['id']}/log", json=IMMEDIATE)
    assert logged.status_code == 201, logged.text
    [record_id], audits, alerts = await flags(harness)
    assert (audits, alerts) == ([("user:sam", "call_log")], ["flagged"])
    async with session_scope(harness.runtime) as session:
        record = await session.get(SafeguardingRecord, record_id)
    assert record.call_id == card["call_id"] and record.flagged_by == card["listener_id"]
    alert = next(a for a in (await jo.get("/api/supervisor/board")).json()["alerts"] if a["kind"] == "immediate-risk")
    assert (alert["key"], alert["text"]) == (f"immediate-risk:{record.id}", "Immediate risk on Sam's call")
    # The listener's page finds it by the call, as it does a flag raised with the button.
    assert (await sam.get(f"/api/listener/calls/{card['call_id']}/immediate-risk")).json()["id"] == record.id

    again = await sam.post(f"/api/listener/sessions/{card['id']}/log", json=IMMEDIATE)  # a double submit
    corrected = await sam.post(
        f"/api/listener/sessions/{card['id']}/log/revisions", json=IMMEDIATE | {"correction_reason": "typo in title"}
    )
    assert (again.status_code, corrected.status_code) == (201, 201)
    assert await flags(harness) == ([record.id], [("user:sam", "call_log")], ["flagged"])


async def test_the_button_then_the_log_is_one_record(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    flagged = (await sam.post("/api/listener/calls/current/immediate-risk")).json()
    assert (await sam.post(f"/api/listener/sessions/{card['id']}/log", json=IMMEDIATE)).status_code == 201
    [record_id], audits, alerts = await flags(harness)
    assert (record_id, audits, alerts) == (flagged["id"], [("user:sam", "flag")], ["flagged"])
    assert [a["kind"] for a in (await jo.get("/api/supervisor/board")).json()["alerts"]].count("immediate-risk") == 1


async def test_a_log_short_of_immediate_risk_opens_nothing(harness, sim):
    _, sam = await listener(harness)
    caller, card = await answered(harness, sim, sam)
    high = IMMEDIATE | {"risk_level": "high", "outcome": "supported"}
    assert (await sam.post(f"/api/listener/sessions/{card['id']}/log", json=high)).status_code == 201
    assert await flags(harness) == ([], [], [])
