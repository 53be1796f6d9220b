"""The report's figures against a hand-counted week (tests/app/reports/week.py), on both
databases: what a supervisor reads, and what a commissioner reads with small numbers suppressed."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from app.core.db import session_scope
from app.core.security import User
from tests.app.reports.week import PREVIOUS_WEDNESDAY, WEDNESDAY, WEEK, add_week, ticket
from tests.conftest import load_demo_directory
from tests.scenarios import service_id


@pytest.fixture
async def week(harness):
    await load_demo_directory(harness)
    sam = await harness.add_user("sam", "listener")
    await harness.add_user("sup", "supervisor")
    await harness.add_user("commissioner", "commissioner")
    services = (await service_id(harness, "ca-money"), await service_id(harness, "ageuk-befriending"))
    await add_week(harness, listener_id=sam.id, services=services)
    return harness


async def _table(client, section: str, **params) -> dict:
    response = await client.get(f"/api/reports/{section}", params=WEEK | params)
    assert response.status_code == 200, response.text
    return response.json()


def _by_label(table: dict, columns: int = 1) -> dict:
    return {tuple(row[:columns]) if columns > 1 else row[0]: row[columns:] for row in table["rows"]}


async def test_calls_offered_answered_abandoned_and_their_waits(week):
    supervisor = await week.signed_in("sup")
    table = await _table(supervisor, "calls")
    assert (table["from"], table["to"]) == ("2026-11-16", "2026-11-22")
    assert (table["before_from"], table["before_to"]) == ("2026-11-09", "2026-11-15")
    rows = {label: (this, before) for label, _unit, this, before in table["rows"]}
    assert rows["Calls offered"] == (10, 2)
    assert rows["Answered"] == (5, 2)
    assert rows["Abandoned (hung up while waiting)"] == (4, 0)
    assert rows["Answer rate"] == (50.0, 100.0)
    assert rows["Answered within 20 s"] == (20.0, 50.0)
    assert rows["Answered within 60 s"] == (40.0, 50.0)
    assert rows["Average speed of answer"] == (37.0, 40.0)
    assert rows["Longest wait before an answer"] == (90, 70)
    assert rows["Wait before hanging up: median"] == (30, None)
    assert rows["Wait before hanging up: 90th percentile"] == (120, None)
    assert rows["Handle time: mean"] == (20.0, None)
    assert rows["Handle time: median"] == (20.0, None)
    assert rows["Wrap-up time: mean"] == (2.0, None)


async def test_hours_of_the_week_in_local_time(week):
    supervisor = await week.signed_in("sup")
    table = await _table(supervisor, "hours")
    assert table["columns"][:3] == ["day", "00", "01"]
    grid = {row[0]: row[1:] for row in table["rows"]}
    assert list(grid) == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    assert grid["Wednesday"][20] == 5 and grid["Wednesday"][21] == 4
    assert grid["Thursday"][3] == 1
    assert sum(sum(hours) for hours in grid.values()) == 10


async def test_repeat_callers_by_the_keyed_hash_and_withheld_never_matched(week):
    supervisor = await week.signed_in("sup")
    rows = _by_label(await _table(supervisor, "repeat-callers"))
    assert rows["Callers with a number shown"] == [5, 1]
    assert rows["Callers who rang more than once"] == [2, 1]
    assert rows["Calls from those callers"] == [5, 2]
    assert rows["Calls from withheld numbers (never matched)"] == [2, 0]


async def test_call_logs_count_each_logs_latest_revision(week):
    supervisor = await week.signed_in("sup")
    rows = _by_label(await _table(supervisor, "call-logs"), columns=2)
    assert rows[("contact type", "support")] == [2, 0]
    assert rows[("contact type", "silent")] == [1, 0]
    assert rows[("contact type", "abusive")] == [0, 0]
    assert rows[("need", "money")] == [1, 0]
    assert rows[("need", "housing")] == [1, 0]
    assert rows[("need", "loneliness")] == [1, 0]
    assert rows[("risk level", "low")] == [0, 0]
    assert rows[("risk level", "moderate")] == [1, 0]
    assert rows[("risk level", "none")] == [2, 0]
    assert rows[("outcome", "warm-transfer")] == [1, 0]
    assert rows[("outcome", "supported")] == [1, 0]
    assert rows[("outcome", "caller-ended")] == [1, 0]


async def test_warm_transfers_by_service_and_state_and_their_times(week):
    supervisor = await week.signed_in("sup")
    transfers = _by_label(await _table(supervisor, "transfers"), columns=2)
    money = "Citizens Advice Somerset · Money and benefits casework"
    assert transfers[(money, "accepted")] == [1, 0]
    assert transfers[(money, "in-progress")] == [1, 0]
    assert len([key for key in transfers if "·" in key[0]]) == 3
    times = {(m, p): rest for m, p, *rest in (await _table(supervisor, "handovers"))["rows"]}
    assert times[("Time to accept", "this period")] == [2, 16.0, 2.0, 30.0, 30.0, None]
    assert times[("Time to handover", "this period")] == [1, 50.0, 50.0, 50.0, 50.0, 100.0]
    assert times[("Time to handover", "period before")] == [0, None, None, None, None, None]
    assert times[("Alliance's figure: contact to support", "")] == [None, 72.0, None, None, 672.0, 100.0]
    assert times[("Still waiting past 4 weeks", "this period")][0] == 0
    partners = _by_label(await _table(supervisor, "partners"))
    assert partners[money] == [2, 100.0, 50.0, 50.0, 50.0, None]
    [befriending] = [row for name, row in partners.items() if name != money]
    assert befriending == [1, 0.0, 0.0, 0.0, 0.0, None]


async def _add_ended(harness, made, codes: dict[tuple[str, str | None], int]) -> None:
    """Hand-made warm transfers that ended: (status, outcome code) -> how many."""
    async with session_scope(harness.runtime) as session:
        sam = await session.scalar(sa.select(User.id).where(User.username == "sam"))
        money = await service_id(harness, "ca-money")
        for (status, code), n in codes.items():
            for _ in range(n):
                made_one = ticket(money, sam, made, status=status)
                made_one.outcome_code = code
                session.add(made_one)


async def test_coded_outcomes_as_shares_of_the_coded_ones_and_small_ones_suppressed(week):
    await _add_ended(
        week,
        WEDNESDAY,
        {
            ("completed", "ongoing-support"): 6,
            ("completed", "one-off-intervention"): 5,
            ("completed", None): 1,  # closed before codes: not counted either way
            ("rejected", "no-capacity"): 3,
            ("failed", "could-not-contact"): 2,
        },
    )
    await _add_ended(week, PREVIOUS_WEDNESDAY, {("completed", "ongoing-support"): 1})
    helped, why = "Completed: how the caller was helped (%)", "Declined or given up: why (%)"
    exact = _by_label(await _table(await week.signed_in("sup"), "transfers"), columns=2)
    assert exact[(helped, "Ongoing support")] == [54.5, 100.0]
    assert exact[(helped, "One-off intervention")] == [45.5, 0.0]
    assert exact[(helped, "Text or online peer support")] == [0.0, 0.0]
    assert exact[(why, "No capacity")] == [60.0, None]
    assert exact[(why, "Could not contact")] == [40.0, None]
    assert exact[(why, "Referred elsewhere")] == [0.0, None]
    assert len([key for key in exact if key[0] in (helped, why)]) == 9
    # A share reveals the smaller of its two counts: 6 of 11 and 5 of 11 may be shown, 3 of 5 not.
    seen = _by_label(await _table(await week.signed_in("commissioner"), "transfers"), columns=2)
    assert seen[(helped, "Ongoing support")] == [54.5, "<5"]
    assert seen[(helped, "Text or online peer support")] == [0.0, "<5"]
    assert seen[(why, "No capacity")] == ["<5", None]
    assert seen[(why, "Not eligible")] == [0.0, None]


async def test_csv_says_what_json_says(week):
    supervisor = await week.signed_in("sup")
    for section in ("calls", "hours", "repeat-callers", "call-logs", "transfers", "handovers", "partners"):
        table = await _table(supervisor, section)
        response = await supervisor.get(f"/api/reports/{section}", params=WEEK | {"format": "csv"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        header, *rows = list(csv.reader(io.StringIO(response.text)))
        assert header == table["columns"]
        assert rows == [["" if cell is None else str(cell) for cell in row] for row in table["rows"]], section


async def test_a_commissioner_sees_small_numbers_as_under_five(week):
    commissioner = await week.signed_in("commissioner")
    table = await _table(commissioner, "calls")
    assert table["suppressed"] is True
    rows = {label: this for label, _unit, this, _before in table["rows"]}
    assert rows["Calls offered"] == 10
    assert rows["Answered"] == 5
    assert rows["Abandoned (hung up while waiting)"] == "<5"
    assert rows["Answer rate"] == 50.0
    assert rows["Answered within 20 s"] == "<5"
    assert rows["Average speed of answer"] == 37.0
    assert rows["Wait before hanging up: median"] == "<5"
    assert rows["Handle time: mean"] == "<5"
    grid = {row[0]: row[1:] for row in (await _table(commissioner, "hours"))["rows"]}
    assert grid["Wednesday"][20] == 5 and grid["Wednesday"][21] == "<5" and grid["Monday"][0] == 0
    for section in ("repeat-callers", "call-logs", "transfers", "handovers", "partners"):
        table = await _table(commissioner, section)
        numbers = [c for row in table["rows"] for c in row[1:] if isinstance(c, int | float)]
        assert not [n for n in numbers if 0 < n < 5 and isinstance(n, int)], section
        csv_text = (await commissioner.get(f"/api/reports/{section}", params=WEEK | {"format": "csv"})).text
        assert [r for r in csv.reader(io.StringIO(csv_text))][1:] == [
            ["" if c is None else str(c) for c in row] for row in table["rows"]
        ]
    supervisor = await week.signed_in("sup")
    assert (await _table(supervisor, "calls"))["suppressed"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "22/11/2026", "to": "16/11/2026"}, "from"),
        ({"from": "01/01/2025", "to": "16/11/2026"}, "to"),
        ({"from": "31/02/2026"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "1900-01-01"}, "from"),
    ],
)
async def test_a_bad_range_is_a_422_naming_the_field(harness, params, field):
    await harness.add_user("sup", "supervisor")
    supervisor = await harness.signed_in("sup")
    response = await supervisor.get("/api/reports/calls", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"
    assert [item["field"] for item in response.json()["detail"]] == [field]
    page = await supervisor.get("/reports", params=params)
    assert page.status_code == 422
    assert "From:" in page.text or "To:" in page.text


async def test_a_bad_section_or_format_is_a_422(harness):
    await harness.add_user("sup", "supervisor")
    supervisor = await harness.signed_in("sup")
    assert (await supervisor.get("/api/reports/everything")).status_code == 422
    assert (await supervisor.get("/api/reports/calls", params={"format": "xlsx"})).status_code == 422
    assert (await supervisor.get("/api/reports/calls", params={"from": "x" * 11})).status_code == 422


async def test_the_default_range_is_the_last_seven_days(harness):
    await harness.add_user("sup", "supervisor")
    supervisor = await harness.signed_in("sup")
    table = (await supervisor.get("/api/reports/calls")).json()
    # The fake clock reads Monday 23/11/2026, 20:00.
    assert (table["from"], table["to"]) == ("2026-11-17", "2026-11-23")
    assert table["rows"][0][2:] == [0, 0]


async def test_what_callers_said_counted_by_hand(week):
    supervisor = await week.signed_in("sup")
    table = await _table(supervisor, "caller-survey")
    rows = _by_label(table, columns=2)
    assert rows[("Survey", "Callers who agreed")] == [5, 1]
    assert rows[("Survey", "Callers who said no")] == [1, 0]
    assert rows[("Survey", "Answered")] == [4, 1]
    assert rows[("Survey", "Answered by keypad")] == [3, 1]
    assert rows[("Survey", "Answered by text")] == [1, 0]
    assert rows[("Survey", "Response rate (%)")] == [80.0, 100.0]
    helped = [rows[("How much the call helped", k)] for k in ("1 · not at all", "2", "3", "4", "5 · a lot")]
    assert helped == [[0, 0], [1, 0], [0, 1], [2, 0], [1, 0]]
    assert rows[("Feel safer now", "Answered")] == [3, 1]
    assert rows[("Feel safer now", "Yes (%)")] == [66.7, 100.0]
    csv_rows = list(
        csv.reader(
            io.StringIO((await supervisor.get("/api/reports/caller-survey", params=WEEK | {"format": "csv"})).text)
        )
    )
    assert csv_rows[1:] == [["" if c is None else str(c) for c in row] for row in table["rows"]]
    seen = _by_label(await _table(await week.signed_in("commissioner"), "caller-survey"), columns=2)
    assert seen[("Survey", "Callers who agreed")] == [5, "<5"]
    assert seen[("Survey", "Answered")] == ["<5", "<5"]
    assert seen[("Feel safer now", "Yes (%)")] == ["<5", "<5"]
    assert seen[("How much the call helped", "1 · not at all")] == [0, 0]
