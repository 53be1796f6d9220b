"""The shift lead's board in a browser (practice mode: the simulator plays the calls): people by
name, an alert acknowledged by a named supervisor, the "reconnecting" state, and the board at
1440 and 390 px."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import sign_in_at
from tests.scenarios import answered
from tests.servers import serving
from tests.telephony.conftest import listener, simulator_for

WAIT = 10_000


async def a_busy_floor(harness):
    sim = simulator_for(harness)
    await harness.add_user("jo", "supervisor", display_name="Jo")
    await harness.add_user("alex", "listener", display_name="Alex")
    _, sam = await listener(harness, display_name="Sam")
    await answered(harness, sim, sam)
    waiting = sim.caller("+447700900555")
    await waiting.arrive()
    await sim.deliver()
    harness.clock.advance(minutes=2)
    return sim, sam


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_board_shows_people_and_an_alert_is_acknowledged_by_name(make_harness, browser, screenshot_path):
    harness = await make_harness(public_url="http://127.0.0.1")
    sim, _ = await a_busy_floor(harness)
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1100})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            await sign_in_at(page, base, "/board", "jo")
            await expect(page.locator("#b-connection")).to_have_text("Live", timeout=WAIT)
            people = page.locator("#b-people li.person")
            await expect(people).to_have_count(2, timeout=WAIT)
            await expect(people.first).to_contain_text("Sam")
            await expect(people.first).to_contain_text("no log yet")
            await expect(people.first.get_by_role("button", name="Listen on Sam's call")).to_be_visible()
            await expect(page.locator("#b-queue")).to_contain_text("waiting 2 min")
            alert = page.locator("#b-alerts li.board-alert")
            await expect(alert).to_contain_text("A caller has waited over 1 min")
            await page.screenshot(path=screenshot_path("board.png"), full_page=True)
            await alert.get_by_role("button", name="Acknowledge").first.click()
            await expect(alert).to_contain_text("Acknowledged by Jo", timeout=WAIT)

            await page.set_viewport_size({"width": 390, "height": 844})
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the board scrolls sideways on a phone ({width} px)"
            await expect(people.first.get_by_role("button", name="Coach on Sam's call")).to_be_visible()
            await page.screenshot(path=screenshot_path("board-phone.png"), full_page=True)

            await page.route("**/api/supervisor/board", lambda route: route.abort())  # the server is unreachable
            await page.evaluate("import('/static/board.js').then((m) => m.board.refresh())")
            await expect(page.locator("#b-connection")).to_contain_text("Reconnecting", timeout=WAIT)
            await page.unroute("**/api/supervisor/board")
            await page.evaluate("import('/static/board.js').then((m) => m.board.refresh())")
            await expect(page.locator("#b-connection")).to_have_text("Live", timeout=15_000)
            assert errors == []
        finally:
            await context.close()
            await sim.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_help_asked_on_the_listener_page_is_joined_as_coach_from_the_board(make_harness, browser):
    harness = await make_harness(public_url="http://127.0.0.1")
    sim, sam = await a_busy_floor(harness)
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        listener_page, board = await context.new_page(), None
        errors: list[str] = []
        listener_page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            await sign_in_at(listener_page, base, "/listener", "sam")
            await expect(listener_page.locator("#ask-help")).to_be_visible(timeout=WAIT)
            await listener_page.keyboard.press("g")  # the shortcut
            await expect(listener_page.locator("#status")).to_contain_text(
                "Every supervisor has been asked", timeout=WAIT
            )
            await listener_page.get_by_role("button", name="Immediate risk").click()
            await expect(listener_page.locator("#risk-panel")).to_contain_text("supervisors alerted", timeout=WAIT)

            board_context = await browser.new_context(base_url=base, viewport={"width": 390, "height": 844})
            board = await board_context.new_page()
            board.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in_at(board, base, "/board", "jo")
            help_alert = board.locator("#b-alerts li.kind-help")
            await expect(help_alert).to_contain_text("Sam asks for help", timeout=WAIT)
            await help_alert.get_by_role("button", name="Join Sam's call as coach").click()
            await expect(help_alert).to_contain_text("Acknowledged by Jo", timeout=WAIT)
            await sim.deliver()
            room = next(r for r in sim.conferences.values() if len(r.participants) == 3)
            jo_leg = next(p.call_sid for p in room.participants.values() if (p.label or "").startswith("supervisor-"))
            caller_leg = next(p.call_sid for p in room.participants.values() if p.label is None)
            listener_leg = next(p.call_sid for p in room.participants.values() if p.label == "listener")
            assert sim.can_hear(listener_leg, jo_leg) and not sim.can_hear(caller_leg, jo_leg)
            await expect(listener_page.locator("#others-on-line")).to_contain_text(
                "Jo (supervisor) is coaching you", timeout=WAIT
            )
            await expect(board.get_by_role("button", name="Leave Sam's call")).to_be_visible(timeout=WAIT)

            risk = board.locator("#b-alerts li.kind-immediate-risk")
            await risk.get_by_label("Outcome", exact=True).select_option("safe-plan-agreed")
            await risk.get_by_role("button", name="Close the immediate-risk flag with this outcome").click()
            await expect(board.locator("#b-alerts li.kind-immediate-risk")).to_have_count(0, timeout=WAIT)
            await board.get_by_role("button", name="Leave Sam's call").click()
            await sim.deliver()
            await expect(board.get_by_role("button", name="Listen on Sam's call")).to_be_visible(timeout=WAIT)
            assert errors == []
            await board_context.close()
        finally:
            await context.close()
            await sim.close()
