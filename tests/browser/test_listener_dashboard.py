"""The listener's night on /listener, in a real browser: a caller waits, is taken, the countdown
warns, the page is reloaded, the log is recorded, the caller hangs up.

The server's clock is the harness's fake clock while the browser's is real: the ring is right only
because the page works from the server's times and the offset of the server's "now"."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from app.core.jobs import run_due_jobs
from tests.browser.conftest import listener_page_ready, sign_in_at, watch_console
from tests.conftest import load_demo_directory
from tests.servers import serving
from tests.telephony.conftest import simulator_for

NUMBER = "+447700900321"
TITLE = "Lonely since the move"
WAIT = 10_000  # ms: generous for a busy CI machine; expect() returns as soon as it holds


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_listeners_call_from_queue_to_tonights_list(make_harness, browser, tmp_path, screenshot_path):
    # Plain http, so the browser keeps the session cookie (it is https-only on an https public URL).
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    await harness.add_user("sam", "listener", display_name="Sam Okafor")
    sim = simulator_for(harness)
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        problems = watch_console(page)
        try:
            # Signed out: the login page, then back to the dashboard.
            await sign_in_at(page, base, "/listener", "sam")
            await expect(page.locator(".topbar .who")).to_contain_text("Sam Okafor")

            await listener_page_ready(page)
            await page.keyboard.press("a")  # shortcut: available
            await expect(page.locator('input[name="presence"][value="available"]')).to_be_checked(timeout=WAIT)
            await expect(page.locator("#needs-list input")).not_to_have_count(0)

            # A caller rings: the queue shows them live, without a reload.
            caller = sim.caller(NUMBER)
            await caller.arrive()
            await sim.deliver()
            await expect(page.locator("#q-waiting")).to_have_text("1", timeout=WAIT)
            harness.clock.advance(seconds=40)

            async with page.expect_response("**/api/listener/calls/next") as taken:
                await page.get_by_role("button", name="Take next caller").click()
            assert (await taken.value).status == 200
            await sim.deliver()  # the listener's leg answers and joins the conference: the session starts

            await expect(page.locator("#caller-number")).to_contain_text("321", timeout=WAIT)
            assert "900321" not in await page.locator("#caller-number").inner_text()
            ring = page.locator("#ring")
            await expect(ring).to_be_visible()
            await expect(ring).to_have_attribute("data-phase", "normal")
            await expect(page.locator("#repeat-summary")).to_have_text("First contact from this number.")
            await expect(page.locator("#q-waiting")).to_have_text("0")
            await expect(page.locator('input[name="presence"][value="break"]')).not_to_be_checked()
            await expect(page.locator("#on-call")).to_be_visible()

            # 25 minutes on: the warning job fires and the ring turns amber with the prompt, live.
            harness.clock.advance(minutes=25)
            assert await run_due_jobs(harness.runtime) >= 1
            await expect(ring).to_have_attribute("data-phase", "warning", timeout=WAIT)
            await expect(ring).to_have_class("ring is-warning")
            await expect(page.locator("#warning-prompt")).to_contain_text("Start wrapping up")
            await expect(page.locator("#ring-time")).to_have_text(_about_five_minutes())

            # The log, partly filled: this is the picture in the docs.
            await page.keyboard.press("l")
            await expect(page.get_by_label("Contact type")).to_be_focused()
            await page.get_by_label("Loneliness").check()
            await page.get_by_label("Low", exact=True).check()
            await page.get_by_label("Yes, the caller agreed").check()
            await page.get_by_label("What it covers").fill("needs and summary")
            await page.get_by_label("Title").fill(TITLE)
            await page.get_by_label("Summary").fill("Moved to Taunton in spring; knows nobody; evenings are hardest.")
            await page.screenshot(path=screenshot_path("listener-dashboard.png"), full_page=True)

            # A small screen: nothing wider than the phone.
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.evaluate("window.scrollTo(0, 0)")
            await page.screenshot(path=str(tmp_path / "listener-390.png"))
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            await page.set_viewport_size({"width": 1440, "height": 1000})

            # A reload: the card and the amber ring are drawn again from the server's times.
            await page.reload()
            await expect(page.locator("#caller-number")).to_contain_text("321", timeout=WAIT)
            await expect(ring).to_have_attribute("data-phase", "warning")
            await expect(page.locator("#warning-prompt")).to_be_visible()
            await expect(page.locator("#ring-time")).to_have_text(_about_five_minutes())

            # Record the log (a double click still records one log).
            await page.get_by_label("Loneliness").check()
            await page.get_by_label("Low", exact=True).check()
            await page.get_by_label("Yes, the caller agreed").check()
            await page.get_by_label("What it covers").fill("needs and summary")
            await page.get_by_label("Title").fill(TITLE)
            await page.get_by_role("button", name="Record log").click()  # no outcome yet: told next to the field
            await expect(page.locator("#err-outcome")).to_contain_text("an outcome is needed", timeout=WAIT)
            await expect(page.get_by_label("Outcome")).to_be_focused()
            await page.get_by_label("Outcome").select_option("supported")
            await page.get_by_role("button", name="Record log").dblclick()
            await expect(page.locator("#log-done")).to_have_text("Log recorded.", timeout=WAIT)
            await expect(page.locator("#err-outcome")).to_be_empty()

            # A correction is a new revision, with its reason.
            await page.get_by_role("button", name="Correct the log").click()
            await expect(page.get_by_label("Reason for the correction")).to_be_focused()
            await page.get_by_label("Reason for the correction").fill("caller asked for an SMS after all")
            await page.get_by_label("Caller agrees to SMS").check()
            await page.get_by_role("button", name="Save correction").click()
            await expect(page.locator("#status")).to_contain_text("Correction saved.", timeout=WAIT)
            await expect(page.get_by_role("button", name="Correct the log")).to_be_visible()

            # The caller hangs up: the call is in tonight's list with its title.
            await caller.hang_up()
            await sim.deliver()
            tonight = page.locator("#tonight")
            await expect(tonight).to_contain_text(TITLE, timeout=WAIT)
            await expect(tonight).to_contain_text("25 min")
            await expect(page.locator("#no-call")).to_be_visible()
            # The one refusal asked for above (a log without its outcome, 422) and the browser's own
            # line for it; nothing else.
            refused = [p for p in problems if "422" in p or "Unprocessable" in p]
            assert refused and [p for p in problems if p not in refused] == []
        finally:
            await context.close()
            await sim.close()


def _about_five_minutes() -> re.Pattern[str]:
    # 5:00 left at the warning, less the few real seconds the browser has ticked since.
    return re.compile(r"^[45]:\d\d$")
