"""What callers said, end to end through the strict twin: the keypad survey after the call and
the text survey the next day feed the report; the commissioner sees small numbers suppressed; the
listener who took the call never sees any of it."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from app.core.db import session_scope
from app.core.jobs import run_due_jobs
from app.reports.svg import draw_chart
from app.reports.tables import Table
from telephony.models import CallerSurvey
from tests.scenarios import end_own_call, survey_agreed
from tests.telephony.conftest import simulator_for

SECTION = "/api/reports/caller-survey"


@pytest.fixture
async def sim(harness):
    simulator = simulator_for(harness)
    yield simulator
    await simulator.close()


def figures(report: dict) -> dict[tuple[str, str], list]:
    return {(row[0], row[1]): row[2:] for row in report["rows"]}


async def keypad_answered(harness, sim, number: str, username: str, keys: tuple[str, str]) -> None:
    client, caller, _card = await survey_agreed(harness, sim, "keypad", number=number, username=username)
    await end_own_call(sim, client)
    await caller.press(keys[0])
    await caller.press(keys[1])
    await sim.deliver()


async def text_answered(harness, sim, number: str, username: str, reply: str) -> None:
    client, _caller, _card = await survey_agreed(harness, sim, "text", number=number, username=username)
    await end_own_call(sim, client)
    async with session_scope(harness.runtime) as session:
        due = await session.scalar(sa.select(sa.func.max(CallerSurvey.text_due_at)))
    harness.clock.set(due)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    sim.text_line(number, reply)
    await sim.deliver()


async def test_a_keypad_answer_shows_in_the_report_in_json_csv_and_on_the_page(harness, sim):
    await keypad_answered(harness, sim, "+447700900321", "sam", ("4", "1"))
    await harness.add_user("jo", "supervisor")
    jo = await harness.signed_in("jo")
    report = (await jo.get(SECTION)).json()
    assert report["title"] == "What callers said"
    said = figures(report)
    assert said[("Survey", "Callers who agreed")][0] == 1
    assert said[("Survey", "Answered by keypad")][0] == 1
    assert said[("Survey", "Response rate (%)")][0] == 100.0
    assert said[("How much the call helped", "4")][0] == 1
    assert said[("How much the call helped", "5 · a lot")][0] == 0
    assert said[("Feel safer now", "Yes (%)")][0] == 100.0
    rows = list(csv.reader(io.StringIO((await jo.get(SECTION, params={"format": "csv"})).text)))
    assert rows[0] == report["columns"]
    assert rows[1:] == [["" if c is None else str(c) for c in row] for row in report["rows"]]
    page = await jo.get("/reports")
    assert page.status_code == 200 and 'id="r-caller-survey"' in page.text
    assert "How much the call helped, as callers said" in page.text


async def test_text_answers_count_and_the_commissioner_sees_small_numbers_suppressed(harness, sim):
    await text_answered(harness, sim, "+447700900401", "sam", "5 yes")
    await text_answered(harness, sim, "+447700900402", "kim", "3, N")
    await harness.add_user("jo", "supervisor")
    await harness.add_user("cam", "commissioner")
    exact = figures((await (await harness.signed_in("jo")).get(SECTION)).json())
    assert exact[("Survey", "Answered by text")][0] == 2
    assert exact[("How much the call helped", "5 · a lot")][0] == 1
    assert exact[("How much the call helped", "3")][0] == 1
    assert exact[("Feel safer now", "Yes (%)")][0] == 50.0
    report = (await (await harness.signed_in("cam")).get(SECTION)).json()
    assert report["suppressed"] is True
    seen = figures(report)
    assert seen[("Survey", "Answered by text")][0] == "<5"
    assert seen[("Feel safer now", "Yes (%)")][0] == "<5"
    assert seen[("How much the call helped", "1 · not at all")][0] == 0


async def test_nothing_about_the_survey_reaches_the_listener_who_took_the_call(harness, sim):
    client, caller, card = await survey_agreed(harness, sim, "keypad")
    await end_own_call(sim, client)
    await caller.press("2")
    await caller.press("2")
    await sim.deliver()
    seen = [
        await client.get("/api/listener/tonight"),
        await client.get("/api/listener/sessions/current"),
        await client.get(f"/api/listener/sessions/{card['id']}/repeat-caller"),
        await client.get("/api/listener/presence"),
        await client.get("/listener"),
    ]
    for response in seen:
        text = response.text.lower()
        assert "helped" not in text and "safer" not in text and "answered by" not in text, response.url
    assert (await client.get(SECTION)).status_code == 403
    assert (await client.get("/reports")).status_code == 403


def test_the_chart_draws_only_how_much_the_call_helped():
    rows = [
        ["Survey", "Callers who agreed", 9, 3],
        ["How much the call helped", "1 · not at all", 0, 1],
        ["How much the call helped", "4", 6, 2],
        ["Feel safer now", "Yes (%)", 80.0, 50.0],
    ]
    table = Table("caller-survey", "What callers said", ["q", "a", "this", "before"], rows, "helped", 2, (2, 3))
    svg = draw_chart(table, rows)
    assert "1 · not at all" in svg and ">4<" in svg
    assert "Callers who agreed" not in svg and "Yes (%)" not in svg and "80" not in svg
