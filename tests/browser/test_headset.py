"""The practice headset on /listener, in a real browser: a caller waits, the listener takes them,
the headset rings (tone, title, the Answer button), and answer, mute, hold, unhold and hang up
each reach the simulator, exactly as the Voice SDK's buttons would reach Twilio."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import listener_page_ready, sign_in_at, watch_console
from tests.conftest import load_demo_directory
from tests.servers import serving
from tests.telephony.conftest import calls, simulator_for

WAIT = 10_000  # ms


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_listener_answers_mutes_holds_and_hangs_up_on_the_practice_headset(
    make_harness, browser, screenshot_path
):
    harness = await make_harness(public_url="http://127.0.0.1", environment="development", telephony="simulated")
    await load_demo_directory(harness)
    sam = await harness.add_user("sam", "listener", display_name="Sam Okafor")
    sim = simulator_for(harness)
    sim.headsets_ring = True
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        problems = watch_console(page)
        headset = page.locator("#headset")
        try:
            await sign_in_at(page, base, "/listener", "sam")
            await expect(page.locator("#headset-kind")).to_have_text("Practice headset", timeout=WAIT)
            await expect(page.locator("#headset-status")).to_contain_text("Ready")
            await expect(page.locator("#hs-answer")).to_be_disabled()
            await listener_page_ready(page)
            await page.keyboard.press("a")
            await expect(page.locator('input[name="presence"][value="available"]')).to_be_checked(timeout=WAIT)

            caller = sim.caller("+447700900654")
            await caller.arrive()
            await sim.deliver()
            await expect(page.locator("#q-waiting")).to_have_text("1", timeout=WAIT)

            # Taken: the listener's leg rings their headset, and the caller still hears hold music.
            async with page.expect_response("**/api/listener/calls/next"):
                await page.keyboard.press("n")
            await sim.deliver()
            await expect(headset).to_have_attribute("data-line", "ringing", timeout=WAIT)
            await expect(page).to_have_title("Ringing · Listener · Openline")
            await expect(page.locator("#headset-status")).to_contain_text("A caller is ringing")
            await expect(page.locator("#hs-answer")).to_be_enabled()
            [call] = await calls(harness)
            leg = sim.calls[call.listener_call_sid]
            assert leg.status == "ringing" and call.queue_state == "claimed"
            await page.screenshot(path=screenshot_path("headset.png"))
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.locator("#headset").scroll_into_view_if_needed()
            await page.screenshot(path=screenshot_path("headset-390.tmp.png"))
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            await page.set_viewport_size({"width": 1440, "height": 1000})

            # Answer (U): the leg joins the caller's conference and the session starts.
            async with page.expect_response("**/api/listener/headset/answer") as answered:
                await page.keyboard.press("u")
            assert (await answered.value).status == 200
            await sim.deliver()
            await expect(headset).to_have_attribute("data-line", "connected", timeout=WAIT)
            await expect(page).to_have_title("Listener · Openline")
            await expect(page.locator("#caller-number")).to_contain_text("654", timeout=WAIT)
            room = sim.conferences[call.conference_name]
            assert leg.sid in room.participants and caller.sid in room.participants

            # Mute (M), then unmute with the button.
            await page.keyboard.press("m")
            await expect(page.locator("#hs-mute")).to_have_attribute("aria-pressed", "true", timeout=WAIT)
            await expect(page.locator("#headset-status")).to_contain_text("You are muted")
            assert room.participants[leg.sid].muted is True
            await page.get_by_role("button", name="Unmute").click()
            await expect(page.locator("#hs-mute")).to_have_attribute("aria-pressed", "false", timeout=WAIT)
            assert room.participants[leg.sid].muted is False

            # Hold (H): the caller hears the line's hold music; then back.
            await page.keyboard.press("h")
            await expect(page.locator("#hs-hold")).to_have_attribute("aria-pressed", "true", timeout=WAIT)
            await expect(page.locator("#headset-status")).to_contain_text("on hold")
            assert room.participants[caller.sid].hold is True
            await sim.deliver()
            await page.get_by_role("button", name="Take off hold").click()
            await expect(page.locator("#hs-hold")).to_have_attribute("aria-pressed", "false", timeout=WAIT)
            assert room.participants[caller.sid].hold is False
            await sim.deliver()

            # Hang up: the call ends for the caller too (not left alone to hear that their
            # listener's line dropped); the headset is ready again.
            async with page.expect_response("**/api/listener/calls/current/end") as hung_up:
                await page.get_by_role("button", name="Hang up").click()
            assert (await hung_up.value).status == 200
            assert leg.ended and leg.sid not in room.participants and caller.state == "ended"
            await sim.deliver()
            await expect(headset).to_have_attribute("data-line", "idle", timeout=WAIT)
            await expect(page.locator("#hs-hangup")).to_be_disabled()
            await expect(page.locator("#headset-status")).to_contain_text("Ready")

            # The shortcuts are listed in the ? overlay.
            await page.keyboard.press("?")
            overlay = page.locator("#shortcuts")
            for text in ("Answer the ringing headset", "Mute or unmute", "Hold the caller", "Hang up"):
                await expect(overlay).to_contain_text(text)
            assert problems == []
        finally:
            await context.close()
            await sim.close()
    assert sam.headset_identity == f"listener_{sam.id}"
