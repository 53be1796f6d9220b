"""A supervisor on a call from the board with the practice headset (practice mode: the simulator
is Twilio and the headset both): Listen rings the headset card on /board, Answer joins muted,
Coach is heard by the listener and never the caller, Mute silences the coach, Leave takes them
off the line. The board at 1440 and 390 px, with no console error and no sideways scroll."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import sign_in_at
from tests.scenarios import take_call
from tests.servers import serving
from tests.telephony.conftest import calls, listener, simulator_for

WAIT = 10_000  # ms


def legs(sim, call):
    room = next(r for r in sim.conferences.values() if call.call_sid in r.participants)
    by_label = {p.label: sid for sid, p in room.participants.items()}
    jo = next((sid for label, sid in by_label.items() if (label or "").startswith("supervisor-")), None)
    return room, by_label["listener"], jo


async def on_a_practice_call(harness, sim):
    await harness.add_user("jo", "supervisor", display_name="Jo")
    _, sam = await listener(harness, display_name="Sam")
    caller = sim.caller("+447700900321")
    await caller.arrive()
    await sim.deliver()
    await take_call(sam)
    await sim.deliver()
    assert (await sam.post("/api/listener/headset/answer")).status_code == 200  # Sam's practice headset
    await sim.deliver()
    [call] = await calls(harness)
    assert call.queue_state == "connected"
    return call, caller


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_supervisor_listens_coaches_mutes_and_leaves_on_the_boards_practice_headset(
    make_harness, browser, screenshot_path
):
    harness = await make_harness(public_url="http://127.0.0.1", environment="development", telephony="simulated")
    sim = simulator_for(harness)
    sim.headsets_ring = True
    call, caller = await on_a_practice_call(harness, sim)
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        headset = page.locator("#headset")
        try:
            await sign_in_at(page, base, "/board", "jo")
            await expect(page.locator("#headset-kind")).to_have_text("Practice headset", timeout=WAIT)
            await expect(page.locator("#headset-status")).to_contain_text("When you listen, coach or barge")
            await expect(page.locator("#hs-hold")).to_be_hidden()  # a supervisor never holds the caller

            async with page.expect_response("**/api/supervisor/calls/*/monitor"):
                await page.get_by_role("button", name="Listen on Sam's call").click()
            await sim.deliver()
            await expect(headset).to_have_attribute("data-line", "ringing", timeout=WAIT)
            await expect(page.locator("#hs-answer")).to_be_enabled()
            await expect(page.locator("#headset-status")).to_contain_text("answer to join the call")
            await page.screenshot(path=screenshot_path("board-headset-ringing.png"), full_page=True)

            async with page.expect_response("**/api/supervisor/headset/answer"):
                await page.locator("#hs-answer").click()
            await sim.deliver()
            await expect(headset).to_have_attribute("data-line", "connected", timeout=WAIT)
            room, sam_leg, jo_leg = legs(sim, call)
            assert jo_leg is not None
            assert not sim.can_hear(call.call_sid, jo_leg) and not sim.can_hear(sam_leg, jo_leg)  # listening
            assert sim.can_hear(jo_leg, call.call_sid) and sim.can_hear(jo_leg, sam_leg)

            async with page.expect_response("**/api/supervisor/calls/*/monitor"):
                await page.get_by_role("button", name="Coach on Sam's call").click()
            await sim.deliver()
            await expect(page.get_by_role("button", name="Coach on Sam's call")).to_have_attribute(
                "aria-pressed", "true", timeout=WAIT
            )
            assert sim.can_hear(sam_leg, jo_leg) and not sim.can_hear(call.call_sid, jo_leg)  # the caller never does
            await page.screenshot(path=screenshot_path("board-headset.png"), full_page=True)

            async with page.expect_response("**/api/supervisor/headset/mute"):
                await page.locator("#hs-mute").click()
            await expect(page.locator("#hs-mute")).to_have_attribute("aria-pressed", "true")
            await expect(page.locator("#headset-status")).to_contain_text("You are muted")
            assert not sim.can_hear(sam_leg, jo_leg) and not sim.can_hear(call.call_sid, jo_leg)

            await page.set_viewport_size({"width": 390, "height": 844})
            await headset.scroll_into_view_if_needed()
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            await page.screenshot(path=screenshot_path("board-headset-390.png"), full_page=True)
            await page.set_viewport_size({"width": 1440, "height": 1000})

            async with page.expect_response("**/api/supervisor/calls/*/monitor"):
                await page.locator("#hs-hangup").click()  # Leave
            await sim.deliver()
            await expect(page.get_by_role("button", name="Listen on Sam's call")).to_be_visible(timeout=WAIT)
            await expect(headset).to_have_attribute("data-line", "idle", timeout=WAIT)
            room, sam_leg, jo_leg = legs(sim, call)
            assert jo_leg is None and sim.can_hear(call.call_sid, sam_leg)  # the caller still has their listener

            harness.clock.advance(minutes=4)
            await caller.hang_up()
            await sim.deliver()
            sam_row = page.locator("#b-people li.person").first
            await expect(sam_row).to_contain_text("Last call: Caller hung up 20:04", timeout=WAIT)
            assert problems == []
        finally:
            await context.close()
            await sim.close()
