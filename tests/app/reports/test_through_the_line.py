"""The report counts what the line recorded on its own: callers ringing the strict Twilio twin,
a listener answering and logging, a warm transfer made, a caller who hung up while waiting; and
hours of the week in the line's local time when the clocks have gone forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.core.db import session_scope
from tests.app.reports.week import call
from tests.conftest import load_demo_directory
from tests.scenarios import GOOD, answered, hang_up, service_id, transfer
from tests.telephony.conftest import listener, sim  # noqa: F401 - the simulator fixture

TODAY = {"from": "23/11/2026", "to": "23/11/2026"}


def _rows(table: dict, columns: int = 1) -> dict:
    return {tuple(r[:columns]) if columns > 1 else r[0]: r[columns:] for r in table["rows"]}


async def test_calls_logs_and_transfers_made_through_the_line_are_counted(harness, sim):
    await load_demo_directory(harness)
    await harness.add_user("jo", "supervisor")
    _, sam = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, sam)  # waited 20 s
    assert (await sam.post(f"/api/listener/sessions/{card['id']}/log", json=GOOD)).status_code == 201
    made = await transfer(sam, card["id"], await service_id(harness, "ca-money"))
    assert made.status_code == 201, made.text
    second = sim.caller("+447700900999")
    await second.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=45)
    await hang_up(sim, second)
    jo = await harness.signed_in("jo")

    calls = _rows((await jo.get("/api/reports/calls", params=TODAY)).json())
    assert calls["Calls offered"][1] == 2
    assert calls["Answered"][1] == 1
    assert calls["Abandoned (hung up while waiting)"][1] == 1
    assert calls["Average speed of answer"][1] == 20.0
    assert calls["Answered within 20 s"][1] == 50.0
    assert calls["Wait before hanging up: median"][1] == 45
    repeat = _rows((await jo.get("/api/reports/repeat-callers", params=TODAY)).json())
    assert repeat["Callers with a number shown"][0] == 2
    assert repeat["Callers who rang more than once"][0] == 0
    logs = _rows((await jo.get("/api/reports/call-logs", params=TODAY)).json(), columns=2)
    assert logs[("contact type", "support")][0] == 1
    assert logs[("need", "money")][0] == 1 and logs[("need", "housing")][0] == 1
    assert logs[("risk level", "low")][0] == 1
    assert logs[("outcome", "warm-transfer")][0] == 1
    transfers = _rows((await jo.get("/api/reports/transfers", params=TODAY)).json(), columns=2)
    by_service = {key: counts for key, counts in transfers.items() if "·" in key[0]}
    assert by_service == {("Citizens Advice Somerset · Money and benefits casework", "requested"): [1, 0]}
    assert transfers[("Completed: how the caller was helped (%)", "Ongoing support")] == [None, None]
    hours = _rows((await jo.get("/api/reports/hours", params=TODAY)).json())
    assert hours["Monday"][20] == 2  # 20:00 on Monday 23 November (GMT)


async def test_hours_of_the_week_follow_british_summer_time(harness):
    await harness.add_user("jo", "supervisor")
    summer = datetime(2026, 7, 15, 19, 30, tzinfo=UTC)  # Wednesday 20:30 in London
    async with session_scope(harness.runtime) as session:
        session.add_all([call(summer, wait=5, answered=True), call(summer + timedelta(hours=3), wait=5, answered=True)])
    jo = await harness.signed_in("jo")
    response = await jo.get("/api/reports/hours", params={"from": "13/07/2026", "to": "19/07/2026"})
    grid = _rows(response.json())
    assert grid["Wednesday"][20] == 1 and grid["Wednesday"][19] == 0
    assert grid["Wednesday"][23] == 1  # 22:30 UTC
    # Local midnight bounds the range: the first of these is Sunday 19th in London, the second Monday.
    async with session_scope(harness.runtime) as session:
        session.add_all(
            [
                call(datetime(2026, 7, 19, 22, 30, tzinfo=UTC), wait=5),
                call(datetime(2026, 7, 19, 23, 30, tzinfo=UTC), wait=5),
            ]
        )
    grid = _rows((await jo.get("/api/reports/hours", params={"from": "13/07/2026", "to": "19/07/2026"})).json())
    assert grid["Sunday"][23] == 1
    assert sum(sum(hours) for hours in grid.values()) == 3
