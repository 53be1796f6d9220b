"""An amendment as the partner sees it on /partner, in a real browser: the caseworker has the
ticket open when the listener adds a detail and changes the best times; the page says so, re-reads
the ticket and marks what changed (before and after, with its version), at 1440 and 390 px."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import sign_in_at
from tests.conftest import load_demo_directory
from tests.scenarios import logged_session, service_id, transfer
from tests.servers import serving

WAIT = 10_000  # ms


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_partner_sees_what_the_helpline_changed_highlighted(make_harness, browser, screenshot_path):
    harness = await make_harness(public_url="http://127.0.0.1")
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ticket_id = (await transfer(listener, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    await harness.add_user("ca-worker", "partner", organisation_id=organisations["citizens-advice"])

    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        try:
            await sign_in_at(page, base, "/partner", "ca-worker")
            await expect(page.locator("#conn")).to_be_hidden(timeout=WAIT)
            await page.get_by_role("button", name=f"Open ticket {ticket_id}").click()
            detail = page.locator("#detail")
            await expect(detail).to_contain_text("evenings after 6", timeout=WAIT)
            await expect(detail.locator("#amendments")).to_have_count(0)

            amended = await listener.post(
                f"/api/helpline/tickets/{ticket_id}/amendments",
                json={"detail": "Has a court hearing on Friday", "preferred_times": "mornings before 9"},
            )
            assert amended.status_code == 201, amended.text

            await expect(page.locator("#status")).to_contain_text(
                f"The helpline changed ticket #{ticket_id}", timeout=WAIT
            )
            box = detail.locator("#amendments")
            await expect(box).to_contain_text("version 1", timeout=WAIT)
            await expect(box.locator("del")).to_have_text("evenings after 6")
            await expect(box.locator("ins")).to_have_text("mornings before 9")
            await expect(box).to_contain_text("Has a court hearing on Friday")
            best_times = detail.locator("dd.amended", has_text="mornings before 9")
            await expect(best_times).to_contain_text("changed (v1)")
            await expect(detail.locator(".partner-added li.amended")).to_have_text("Has a court hearing on Friday")
            await expect(detail.locator(".partner-trail")).to_contain_text("Changed by the helpline")
            await expect(page.locator(f'tr[data-ticket="{ticket_id}"]')).to_contain_text("Changed", timeout=WAIT)
            await page.screenshot(path=screenshot_path("partner-amendment.png"), full_page=True)

            await page.set_viewport_size({"width": 390, "height": 844})
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            await box.scroll_into_view_if_needed()
            await page.screenshot(path=screenshot_path("partner-amendment-390.png"))
            assert not problems, problems
        finally:
            await context.close()
