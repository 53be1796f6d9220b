"""The shift lead's board: every listener by name with their call, who waits, open warm
transfers, and alerts each acknowledged by a named supervisor (audited)."""

from datetime import UTC, datetime

import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.shiftlead.alerts import find_alerts
from tests.scenarios import answered
from tests.telephony.conftest import listener, sim  # noqa: F401 - the simulator fixture

NOW = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)


def _person(name, overrun, call_id=5):
    return {
        "id": 1,
        "name": name,
        "call": {"id": call_id},
        "session": {"id": 9, "due_at": NOW.isoformat(), "overrun_seconds": overrun},
    }


def _waiting(seconds, id_=3):
    return {"kind": "caller", "id": id_, "since": NOW.isoformat(), "wait_seconds": seconds}


def _alerts(**kw):
    base = dict(
        now=NOW, listeners=[], waiting=[], risks=[], helps=[], dead=[], wait_target_seconds=60, overrun_minutes=5
    )
    return [a.key for a in find_alerts(**(base | kw))]


def test_alerts_come_from_the_picture_most_serious_first():
    assert _alerts() == []
    assert _alerts(waiting=[_waiting(59)]) == []  # within the target
    assert _alerts(waiting=[_waiting(61), _waiting(300, 4)]) == ["long-wait:4"]  # one alert, for the longest
    assert _alerts(listeners=[_person("Sam", 4 * 60)]) == []  # over, but not by the set minutes yet
    assert _alerts(listeners=[_person("Sam", 5 * 60)]) == ["overrun:9"]
    assert _alerts(overrun_minutes=0, listeners=[_person("Sam", 1)]) == ["overrun:9"]
    assert _alerts(
        dead=[(2, NOW)],
        helps=[(7, 5, 1, NOW, "Sam")],
        risks=[(3, 5, 1, NOW, "Sam", None, None, None)],
        waiting=[_waiting(90)],
    ) == ["immediate-risk:3", "help:7", "long-wait:3", "notification-dead:2"]
    # A crisis line that did not connect is its own alert, above the flag it belongs to.
    assert _alerts(risks=[(3, 5, 1, NOW, "Sam", "Crisis team", "busy", NOW)]) == ["crisis-line:3", "immediate-risk:3"]
    assert _alerts(risks=[(3, 5, 1, NOW, "Sam", "Crisis team", "joined", None)]) == ["immediate-risk:3"]


async def test_the_board_names_each_listener_with_their_call_and_who_waits(harness, sim):
    await harness.add_user("jo", "supervisor", display_name="Jo")
    await harness.add_user("alex", "listener", display_name="Alex")
    _, sam = await listener(harness, display_name="Sam")
    await answered(harness, sim, sam)
    waiting = sim.caller("+447700900555")
    await waiting.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=75)
    jo = await harness.signed_in("jo")
    board = (await jo.get("/api/supervisor/board")).json()
    sam_row, alex_row = board["listeners"]
    assert (sam_row["name"], sam_row["presence"], alex_row["name"], alex_row["call"]) == (
        "Sam",
        "on-call",
        "Alex",
        None,
    )
    assert sam_row["call"]["wait_seconds"] == 20 and sam_row["call"]["caller"].endswith("321")
    assert sam_row["session"]["log_recorded"] is False and sam_row["session"]["elapsed_seconds"] == 75
    assert [(w["kind"], w["wait_seconds"]) for w in board["waiting"]] == [("caller", 75)]
    assert "900555" not in str(board)  # numbers masked
    assert [a["kind"] for a in board["alerts"]] == ["long-wait"]


async def test_an_alert_is_acknowledged_by_a_named_supervisor_once_and_audited(harness, sim):
    await harness.add_user("jo", "supervisor", display_name="Jo")
    await harness.add_user("kim", "supervisor", display_name="Kim")
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    harness.clock.advance(minutes=3)
    jo, kim = await harness.signed_in("jo"), await harness.signed_in("kim")
    key = (await jo.get("/api/supervisor/board")).json()["alerts"][0]["key"]
    first = await jo.post(f"/api/supervisor/alerts/{key}/acknowledge")
    assert first.status_code == 200 and first.json()["acknowledged_by"] == "Jo"
    again = await kim.post(f"/api/supervisor/alerts/{key}/acknowledge")
    assert again.json()["acknowledged_by"] == "Jo"  # the first one stands
    shown = (await kim.get("/api/supervisor/board")).json()["alerts"][0]
    assert (shown["key"], shown["acknowledged_by"]) == (key, "Jo")
    async with session_scope(harness.runtime) as session:
        audit = (await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "acknowledge_alert"))).all()
    assert [(a.actor, a.detail["key"]) for a in audit] == [("user:jo", key)]
    assert (await jo.post("/api/supervisor/alerts/long-wait:999/acknowledge")).status_code == 404  # not showing
    assert (await jo.post("/api/supervisor/alerts/bogus/acknowledge")).status_code == 422
    listener_client = (await listener(harness, "sam"))[1]
    assert (await listener_client.post(f"/api/supervisor/alerts/{key}/acknowledge")).status_code == 403
