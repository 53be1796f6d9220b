"""/reports in a browser, as a supervisor and as a commissioner, on a desk and on a phone: the
charts and their tables, no caller's details anywhere, no sideways scrolling, no console errors."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.app.reports.week import add_week
from tests.browser.conftest import sign_in_at
from tests.conftest import load_demo_directory
from tests.scenarios import GOOD, TRANSFER_NUMBER, logged_session, service_id, transfer
from tests.servers import serving

WAIT = 10_000
SECTIONS = ("calls", "hours", "repeat-callers", "call-logs", "transfers", "handovers", "partners", "caller-survey")
# What the warm transfer made through the API knows about its caller: none of it may show.
CALLER_DETAILS = ("Jamie", TRANSFER_NUMBER, TRANSFER_NUMBER[-4:], GOOD["title"], GOOD["summary"], "evenings after 6")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_reports_for_a_supervisor_and_a_commissioner(make_harness, browser, screenshot_path):
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    sam = await harness.add_user("sam-week", "listener")
    await harness.add_user("jo", "supervisor", display_name="Jo")
    await harness.add_user("kim", "commissioner", display_name="Kim")
    services = (await service_id(harness, "ca-money"), await service_id(harness, "ageuk-befriending"))
    await add_week(harness, listener_id=sam.id, services=services)
    session_id, listener = await logged_session(harness)
    made = await transfer(listener, session_id, services[0])
    assert made.status_code == 201, made.text
    async with serving(harness.app) as base:
        for username, exact in (("jo", True), ("kim", False)):
            for width in (1440, 390):
                context = await browser.new_context(base_url=base, viewport={"width": width, "height": 900})
                page = await context.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda exc, problems=problems: problems.append(str(exc)))
                page.on(
                    "console",
                    lambda msg, problems=problems: problems.append(msg.text) if msg.type == "error" else None,
                )
                try:
                    await sign_in_at(page, base, "/reports", username)
                    await page.get_by_role("textbox", name="From").fill("16/11/2026")
                    await page.get_by_role("textbox", name="To").fill("23/11/2026")
                    await page.get_by_role("button", name="Show").click()
                    await expect(page.locator("#r-period")).to_contain_text(
                        "16/11/2026 to 23/11/2026 (8 days", timeout=WAIT
                    )
                    await expect(page.locator("#r-period")).to_contain_text("compared with 08/11/2026 to 15/11/2026")
                    for section in SECTIONS:
                        card = page.locator(f"#r-{section}")
                        await expect(card.locator("svg[role=img]")).to_have_count(1)
                        await expect(card.locator("table")).to_have_count(1)
                        await expect(card.get_by_role("link", name="CSV")).to_have_attribute(
                            "href", f"/api/reports/{section}?from=2026-11-16&to=2026-11-23&format=csv"
                        )
                    calls = page.locator("#r-calls tbody tr").filter(has_text="Calls offered")
                    await expect(calls).to_contain_text("11")  # the week's ten, and the caller tonight
                    abandoned = page.locator("#r-calls tbody tr").filter(has_text="Abandoned")
                    await expect(abandoned).to_contain_text("4" if exact else "<5")
                    wednesday = page.locator("#r-hours tbody tr").filter(has_text="Wednesday")
                    await expect(wednesday.locator("td").nth(20)).to_have_text("5")
                    await expect(wednesday.locator("td").nth(21)).to_have_text("4" if exact else "<5")
                    if not exact:
                        await expect(page.locator("#r-suppressed")).to_be_visible()
                        await expect(page.locator("nav.nav")).to_have_count(0)
                    text = await page.locator("body").inner_text()
                    html = await page.content()
                    for detail in CALLER_DETAILS:
                        assert detail not in text and detail not in html, (username, detail)
                    assert await page.evaluate("document.documentElement.scrollWidth") <= width
                    name = "reports" if exact else "reports-commissioner"
                    await page.screenshot(
                        path=screenshot_path(f"{name}{'-phone' if width == 390 else ''}.png"), full_page=True
                    )
                    assert problems == []
                finally:
                    await context.close()
