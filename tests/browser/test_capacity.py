"""/reports/capacity in a browser: the heatmap with its table, a what-if, the partners' loads,
at 1440 and 390 px, with no console error and no sideways scroll on a phone."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.app.capacity.fixtures import record_a_month, record_transfers
from tests.browser.conftest import sign_in_at, watch_console
from tests.conftest import load_demo_directory
from tests.servers import serving

WAIT = 10_000


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_supervisor_reads_the_capacity_model_and_tries_a_what_if(make_harness, browser, screenshot_path):
    harness = await make_harness(public_url="http://127.0.0.1")
    ana = await harness.add_user("ana", "listener")
    ben = await harness.add_user("ben", "listener")
    await harness.add_user("jo", "supervisor", display_name="Jo")
    await record_a_month(harness, ana.id, ben.id)
    await load_demo_directory(harness)
    await record_transfers(harness, ana.id, "ca-money")
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1100})
        page = await context.new_page()
        problems = watch_console(page)
        try:
            await sign_in_at(page, base, "/reports/capacity", "jo")
            await expect(page.get_by_role("heading", name="Capacity and demand")).to_be_visible()
            await expect(page.locator("#c-calls")).to_have_text("3")
            await expect(page.locator("#c-under")).to_have_text("1")
            heatmap = page.get_by_role("img", name="Listeners on minus listeners needed, by hour of the week")
            await expect(heatmap).to_be_visible()
            # The numbers beside it, for screen readers (and anyone): Monday 8pm two short.
            rows = page.locator("#c-hours tbody tr")
            await expect(rows).to_have_count(168)
            await expect(rows.nth(20)).to_contain_text("Mon 20:00")
            await expect(rows.nth(20).locator("td").nth(5)).to_have_text("-2.0")
            services = page.locator("#c-services tbody tr")
            money = services.filter(has_text="Money and benefits casework")
            await expect(money).to_contain_text("beyond capacity")
            await expect(money).to_contain_text("28.0 days")
            await expect(page.locator("#c-localities li").first).to_contain_text("Somerset West & Taunton: 8.17 days")
            await page.screenshot(path=screenshot_path("capacity.png"), full_page=True)

            await page.get_by_label("Listeners to add").fill("2")
            for day in ("Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
                await page.get_by_label(day, exact=True).uncheck()
            await page.get_by_label("From").select_option("20")
            await page.get_by_label("Until").select_option("21")
            await page.get_by_role("button", name="Predict").click()
            what_if = page.locator("#c-what-if")
            await expect(what_if).to_be_visible(timeout=WAIT)
            await expect(what_if.locator("tr").filter(has_text="Hours short").locator("td")).to_have_text(["1", "0"])
            await expect(rows.nth(20).locator("td").nth(4)).to_have_text("2.0 +2")

            await page.set_viewport_size({"width": 390, "height": 844})
            width = await page.evaluate("document.documentElement.scrollWidth")
            wide = await page.evaluate(
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)"
                ".slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"
            )
            assert width <= 390, f"the capacity page scrolls sideways on a phone ({width} px): {wide}"
            await page.screenshot(path=screenshot_path("capacity-phone.png"), full_page=True)
            await page.screenshot(path=screenshot_path("capacity-phone-top.png"))
            await page.locator("#h-what-if").scroll_into_view_if_needed()
            await page.screenshot(path=screenshot_path("capacity-phone-what-if.png"))
            await page.get_by_text("The numbers, hour by hour").click()
            await expect(rows.nth(20)).to_be_visible()
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the hour-by-hour table makes the page scroll sideways ({width} px)"
            assert problems == []
        finally:
            await context.close()
