"""Wrap-up on /listener, in a real browser, with the line's default (a support call's log before
the next caller): the caller hangs up and the card says so ("Caller hung up 20:01"); taking the
next caller is refused, the page says why and offers to open that log; with it recorded the
listener is available at once and takes the next caller. At 1440 and 390 px."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import listener_page_ready, sign_in_at
from tests.servers import serving
from tests.telephony.conftest import simulator_for

WAIT = 10_000  # ms


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_last_callers_log_before_the_next_caller(make_harness, browser, screenshot_path):
    harness = await make_harness(public_url="http://127.0.0.1", log_before_next_contact_types=["support", "abusive"])
    await harness.add_user("sam", "listener", display_name="Sam Okafor")
    sim = simulator_for(harness)
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        # A refused request is logged by the browser itself; those are checked by their responses.
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console: {msg.text}")
                if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on(
            "response",
            lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 and not _expected(r) else None,
        )
        try:
            await sign_in_at(page, base, "/listener", "sam")
            await listener_page_ready(page)
            await page.keyboard.press("a")
            await expect(page.locator('input[name="presence"][value="available"]')).to_be_checked(timeout=WAIT)
            first = sim.caller("+447700900321")
            await first.arrive()
            await sim.deliver()
            await expect(page.locator("#q-waiting")).to_have_text("1", timeout=WAIT)
            async with page.expect_response("**/api/listener/calls/next"):
                await page.get_by_role("button", name="Take next caller").click()
            await sim.deliver()
            await expect(page.locator("#on-call-view")).to_be_visible(timeout=WAIT)
            harness.clock.advance(minutes=6)
            await first.hang_up()
            await sim.deliver()
            ended = page.locator("#call-ended")
            await expect(ended).to_contain_text("Caller hung up 20:06", timeout=WAIT)  # the server's today
            await expect(page.locator("#tonight")).to_contain_text("Caller hung up", timeout=WAIT)

            second = sim.caller("+447700900456")
            await second.arrive()
            await sim.deliver()
            await expect(page.locator("#q-waiting")).to_have_text("1", timeout=WAIT)
            async with page.expect_response("**/api/listener/calls/next") as refused:
                await page.get_by_role("button", name="Take next caller").click()
            assert (await refused.value).status == 409
            status = page.locator("#status")
            await expect(status).to_contain_text("Record the log of your last call", timeout=WAIT)
            await expect(status.get_by_role("button", name="Open that log")).to_be_visible(timeout=WAIT)
            await page.screenshot(path=screenshot_path("listener-log-first.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 844})
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            await page.screenshot(path=screenshot_path("listener-log-first-390.png"), full_page=True)
            await page.set_viewport_size({"width": 1440, "height": 1000})

            await page.keyboard.press("a")  # available: not before the log either
            await expect(status.get_by_role("button", name="Open that log")).to_be_visible(timeout=WAIT)
            await expect(page.locator('input[name="presence"][value="wrap-up"]')).to_be_checked()
            await status.get_by_role("button", name="Open that log").click()
            await page.locator("#f-contact_type").select_option("silent")
            await page.locator("#f-title").fill("Silent call")
            await page.locator("#f-outcome").select_option("caller-ended")
            async with page.expect_response("**/api/listener/sessions/*/log") as logged:
                await page.get_by_role("button", name="Record log").click()
            assert (await logged.value).status == 201, await (await logged.value).text()
            await expect(page.locator('input[name="presence"][value="available"]')).to_be_checked(timeout=WAIT)
            async with page.expect_response("**/api/listener/calls/next") as taken:
                await page.get_by_role("button", name="Take next caller").click()
            assert (await taken.value).status == 200
            assert problems == []
        finally:
            await context.close()
            await sim.close()


def _expected(response) -> bool:
    # No session between calls (404), and the refusal this test is about (409).
    return response.url.endswith("/api/listener/sessions/current") or (
        response.status == 409 and response.url.endswith(("/api/listener/calls/next", "/api/listener/presence"))
    )
