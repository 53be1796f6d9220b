"""Asking for help (every supervisor alerted, one click joins as coach) and immediate risk
during the call (flagged at once, a safeguarding record, closed by a supervisor with an outcome)."""

import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.shiftlead.models import SafeguardingRecord
from tests.scenarios import answered
from tests.telephony.conftest import listener, sim  # noqa: F401 - the simulator fixture


async def on_a_call(harness, sim):
    await harness.add_user("jo", "supervisor", display_name="Jo")
    _, sam = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, sam)
    return caller, card, sam, await harness.signed_in("jo")


async def test_asking_for_help_alerts_supervisors_and_one_click_joins_as_coach(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    asked = await sam.post("/api/listener/calls/current/help")
    assert asked.status_code == 201
    assert (await sam.post("/api/listener/calls/current/help")).json()["id"] == asked.json()["id"]  # one alert, not two
    alert = next(a for a in (await jo.get("/api/supervisor/board")).json()["alerts"] if a["kind"] == "help")
    assert (alert["text"], alert["call_id"]) == ("Sam asks for help", card["call_id"])
    joined = await jo.post(
        f"/api/supervisor/calls/{alert['call_id']}/monitor", json={"mode": "coach", "alert_key": alert["key"]}
    )
    assert joined.status_code == 201 and joined.json()["mode"] == "coach"
    await sim.deliver()
    room = next(r for r in sim.conferences.values() if caller.call.sid in r.participants)
    jo_leg = next(p.call_sid for p in room.participants.values() if (p.label or "").startswith("supervisor-"))
    listener_leg = next(p.call_sid for p in room.participants.values() if p.label == "listener")
    assert sim.can_hear(listener_leg, jo_leg) and not sim.can_hear(caller.call.sid, jo_leg)
    shown = next(a for a in (await jo.get("/api/supervisor/board")).json()["alerts"] if a["kind"] == "help")
    assert shown["acknowledged_by"] == "Jo"


async def test_help_and_risk_need_a_call_in_progress(harness):
    _, sam = await listener(harness)
    assert (await sam.post("/api/listener/calls/current/help")).status_code == 409
    assert (await sam.post("/api/listener/calls/current/immediate-risk")).status_code == 409


async def test_immediate_risk_flagged_mid_call_is_recorded_and_stays_until_closed_with_an_outcome(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    flagged = await sam.post("/api/listener/calls/current/immediate-risk")
    assert flagged.status_code == 201, flagged.text
    record = flagged.json()
    assert record["protocol"] and record["alerted"][0]["who"] == "supervisors on shift"
    board = (await jo.get("/api/supervisor/board")).json()
    assert [a["kind"] for a in board["alerts"]][0] == "immediate-risk"
    assert board["listeners"][0]["call"]["immediate_risk_id"] == record["id"]

    filled = await sam.patch(
        f"/api/helpline/safeguarding/{record['id']}",
        json={
            "concern": "plans to end their life tonight",
            "risk_factors": "alone, has tablets",
            "protective_factors": "sister nearby",
            "location": "12 Example Road, Taunton",
            "emergency_reference": "ASP-2231",
            "alerted": [{"who": "Ambulance (999)", "at": "2026-11-25T20:05:00+00:00"}],
        },
    )
    assert filled.status_code == 200 and filled.json()["location"] == "12 Example Road, Taunton"
    async with session_scope(harness.runtime) as session:
        stored = await session.get(SafeguardingRecord, record["id"])
    assert "Taunton" not in (stored.location_encrypted or "")  # encrypted at rest

    assert (
        await sam.post(f"/api/supervisor/safeguarding/{record['id']}/close", json={"outcome": "other"})
    ).status_code == 403
    harness.clock.advance(minutes=40)
    assert any(a["kind"] == "immediate-risk" for a in (await jo.get("/api/supervisor/board")).json()["alerts"])
    closed = await jo.post(
        f"/api/supervisor/safeguarding/{record['id']}/close",
        json={"outcome": "emergency-services-attended", "note": "ambulance with her"},
    )
    assert closed.status_code == 200 and closed.json()["outcome"] == "emergency-services-attended"
    assert (
        await jo.post(f"/api/supervisor/safeguarding/{record['id']}/close", json={"outcome": "other"})
    ).status_code == 409
    assert not any(a["kind"] == "immediate-risk" for a in (await jo.get("/api/supervisor/board")).json()["alerts"])
    async with session_scope(harness.runtime) as session:
        trail = [
            (a.actor, a.action)
            for a in (
                await session.scalars(
                    sa.select(AuditEvent)
                    .where(AuditEvent.subject_type == "safeguarding_record")
                    .order_by(AuditEvent.id)
                )
            ).all()
        ]
        words = str([a.detail for a in (await session.scalars(sa.select(AuditEvent))).all()])
    assert trail == [
        ("user:sam", "flag_immediate_risk"),
        ("user:sam", "update_safeguarding_record"),
        ("user:jo", "close_immediate_risk"),
    ]
    assert "Taunton" not in words and "tablets" not in words  # the audit names fields, never their words
    _, alex = await listener(harness, "alex")
    assert (await alex.get(f"/api/helpline/safeguarding/{record['id']}")).status_code == 404  # another listener's
    # After the call, in wrap-up, the listener's page still finds the record by its call; nobody else's does.
    assert (await sam.get(f"/api/listener/calls/{card['call_id']}/immediate-risk")).json()["id"] == record["id"]
    assert (await alex.get(f"/api/listener/calls/{card['call_id']}/immediate-risk")).json() is None
