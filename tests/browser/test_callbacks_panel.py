"""The callbacks panel in a real browser: a claimed voicemail plays through Openline, "Call back"
rings the caller, and a ring-back nobody answered is shown ("no answer at 21:14")."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from app.core.jobs import run_due_jobs
from tests.browser.conftest import sign_in_at, watch_console
from tests.scenarios import CALLER_NUMBER as NUMBER
from tests.scenarios import voicemail_claimed
from tests.servers import serving
from tests.telephony.conftest import simulator_for

WAIT = 10_000


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_claimed_callback_plays_its_voicemail_and_rings_back(make_harness, browser, screenshot_path):
    harness = await make_harness(public_url="http://127.0.0.1")
    sim = simulator_for(harness)
    _, _, callback_id = await voicemail_claimed(harness, sim)
    async with serving(harness.app) as base:
        page = await (await browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})).new_page()
        problems = watch_console(page)
        try:
            await sign_in_at(page, base, "/listener", "sam")
            voicemail = page.locator("#callbacks audio")
            await expect(voicemail).to_have_attribute(
                "src", f"/api/listener/callbacks/{callback_id}/recording", timeout=WAIT
            )
            assert "twilio" not in await page.locator("#callbacks").inner_html()

            sim.unanswered.add(NUMBER)
            async with page.expect_response(f"**/api/listener/callbacks/{callback_id}/ring") as rung:
                await page.get_by_role("button", name="Call back").click()
            assert (await rung.value).status == 202
            await expect(page.get_by_role("button", name="Call back")).to_have_text("Ringing…", timeout=WAIT)
            await run_due_jobs(harness.runtime)
            await sim.deliver()
            await expect(page.locator("#callbacks .cb-attempts")).to_contain_text("no answer at", timeout=WAIT)
            await expect(page.get_by_role("button", name="Call back")).to_be_enabled()
            await page.screenshot(path=screenshot_path("listener-callbacks.png"), full_page=True)
        finally:
            await page.context.close()
    await sim.close()
    assert problems == []
