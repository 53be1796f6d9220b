"""The caller's consent to the survey after the call, recorded from the call card in a real
browser: chosen during the call, kept over a reload, the keypad offered only while the call is on
and a text never offered to a withheld number; at 1440 and 390 px with no console errors."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from app.core.db import session_scope
from tests.browser.conftest import listener_page_ready, sign_in_at, watch_console
from tests.conftest import load_demo_directory
from tests.servers import serving
from tests.telephony.conftest import simulator_for

WAIT = 10_000


async def consent_stored(harness) -> str | None:
    import sqlalchemy as sa

    from telephony.models import CallerSurvey

    async with session_scope(harness.runtime) as session:
        return await session.scalar(sa.select(CallerSurvey.way))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_listener_records_the_survey_consent_from_the_call_card(make_harness, browser, screenshot_path):
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    await harness.add_user("sam", "listener", display_name="Sam Okafor")
    sim = simulator_for(harness)
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        problems = watch_console(page)
        try:
            await sign_in_at(page, base, "/listener", "sam")
            await listener_page_ready(page)
            caller = sim.caller("+447700900321")
            await caller.arrive()
            await sim.deliver()
            async with page.expect_response("**/api/listener/calls/next") as taken:
                await page.get_by_role("button", name="Take next caller").click()
            assert (await taken.value).status == 200
            await sim.deliver()
            survey = page.get_by_label("Two short questions after the call?")
            await expect(survey).to_be_visible(timeout=WAIT)
            await expect(survey).to_have_value("not-asked")

            async with page.expect_response("**/api/listener/sessions/*/survey") as saved:
                await survey.select_option("keypad")
            assert (await saved.value).status == 200
            await expect(page.locator("#status")).to_contain_text("keypad questions follow when you hang up")
            assert await consent_stored(harness) == "keypad"
            await page.screenshot(path=screenshot_path("survey-consent-1440.png"))

            await page.reload()
            await expect(page.locator("#caller-number")).to_contain_text("321", timeout=WAIT)
            await expect(survey).to_have_value("keypad", timeout=WAIT)
            async with page.expect_response("**/api/listener/sessions/*/survey"):
                await survey.select_option("text")
            await expect(page.locator("#status")).to_contain_text("a text goes to the caller tomorrow")
            assert await consent_stored(harness) == "text"

            await page.set_viewport_size({"width": 390, "height": 844})
            await survey.scroll_into_view_if_needed()
            await page.screenshot(path=screenshot_path("survey-consent-390.png"))
            width = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert width <= 0, f"scrolls sideways by {width}px at 390 px"

            # The caller hangs up: the keypad is no longer on offer; the text still is.
            await caller.hang_up()
            await sim.deliver()
            await expect(page.locator("#call-ended")).to_be_visible(timeout=WAIT)
            await expect(page.locator('#f-survey option[value="keypad"]')).to_be_disabled()
            await expect(page.locator('#f-survey option[value="text"]')).to_be_enabled()
            assert problems == []
        finally:
            await context.close()
            await sim.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_withheld_caller_is_never_offered_a_text(make_harness, browser):
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    await harness.add_user("sam", "listener", display_name="Sam Okafor")
    sim = simulator_for(harness)
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        problems = watch_console(page)
        try:
            await sign_in_at(page, base, "/listener", "sam")
            await listener_page_ready(page)
            caller = sim.caller("anonymous")
            await caller.arrive()
            await sim.deliver()
            # The take must be answered before the twin connects the listener's leg.
            async with page.expect_response("**/api/listener/calls/next") as taken:
                await page.get_by_role("button", name="Take next caller").click()
            assert (await taken.value).status == 200
            await sim.deliver()
            await expect(page.locator("#caller-number")).to_have_text("Number withheld", timeout=WAIT)
            await expect(page.locator('#f-survey option[value="text"]')).to_be_disabled()
            await expect(page.locator('#f-survey option[value="keypad"]')).to_be_enabled()
            assert problems == []
        finally:
            await context.close()
            await sim.close()
