"""The whole loop in two browsers: a listener makes a warm transfer from a simulated call, a
partner worker accepts and confirms contact on /partner, and the listener's page shows the
handover confirmed without a reload."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import listener_page_ready, sign_in_at, watch_console
from tests.conftest import load_demo_directory
from tests.servers import serving
from tests.telephony.conftest import simulator_for

WAIT = 10_000


async def sign_in(context, base, path, username):
    page = await context.new_page()
    problems = watch_console(page)
    await sign_in_at(page, base, path, username)
    return page, problems


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_warm_transfer_from_call_to_confirmed_handover(make_harness, browser, screenshot_path):
    harness = await make_harness(public_url="http://127.0.0.1")
    organisations = await load_demo_directory(harness)
    await harness.add_user("sam", "listener", display_name="Sam Okafor")
    await harness.add_user(
        "ca-worker", "partner", organisation_id=organisations["citizens-advice"], display_name="Priya Shah"
    )
    sim = simulator_for(harness)
    async with serving(harness.app) as base:
        helpline = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        charity = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        try:
            listener, listener_problems = await sign_in(helpline, base, "/listener", "sam")
            await listener_page_ready(listener)
            await listener.keyboard.press("a")
            await expect(listener.locator('input[name="presence"][value="available"]')).to_be_checked(timeout=WAIT)
            caller = sim.caller("+447700900444")
            await caller.arrive()
            await sim.deliver()
            await expect(listener.locator("#q-waiting")).to_have_text("1", timeout=WAIT)
            async with listener.expect_response("**/api/listener/calls/next") as taken:
                await listener.get_by_role("button", name="Take next caller").click()
            assert (await taken.value).status == 200
            await sim.deliver()
            await expect(listener.locator("#caller-number")).to_contain_text("444", timeout=WAIT)

            # Record once: what the caller agreed to share travels with the transfer.
            await listener.get_by_label("Money and benefits").check()
            await listener.get_by_label("Low", exact=True).check()
            await listener.get_by_label("Yes, the caller agreed").check()
            await listener.get_by_label("What it covers").fill("needs, summary and number")
            await listener.get_by_label("Title").fill("Universal Credit stopped")
            await listener.get_by_label("Summary").fill("Payments stopped in October; rent due Friday.")
            await listener.get_by_label("Outcome").select_option("warm-transfer")
            await listener.get_by_role("button", name="Record log").click()
            await expect(listener.locator("#log-done")).to_have_text("Log recorded.", timeout=WAIT)

            panel = listener.locator("#transfer-panel")
            await panel.get_by_label("When to contact them").fill("weekday mornings")
            await panel.get_by_role("button", name="Find services").click()
            choice = panel.locator("li.suggestion", has_text="Money and benefits casework")
            await expect(choice).to_contain_text("meets money", timeout=WAIT)
            await choice.get_by_role("button", name="Warm transfer to their queue").dblclick()
            await expect(panel.locator("li.transfer")).to_have_count(1, timeout=WAIT)  # a double click: one
            await expect(panel.locator("li.transfer")).to_contain_text("Waiting for the partner to accept")

            partner, partner_problems = await sign_in(charity, base, "/partner", "ca-worker")
            row = partner.locator("tr[data-ticket]").first
            await expect(row).to_contain_text("Money", timeout=WAIT)
            ticket_id = await row.get_attribute("data-ticket")
            await partner.get_by_role("button", name=f"Open ticket {ticket_id}").click()
            detail = partner.locator("#detail")
            await expect(detail).to_contain_text("Payments stopped in October", timeout=WAIT)
            await expect(detail).to_contain_text("weekday mornings")

            # The listener adds a detail after sending; the partner's open ticket shows it marked.
            ticket = panel.locator("li.transfer")
            await ticket.get_by_text("Add to this warm transfer").click()
            await ticket.get_by_label("A new detail for the partner").fill("The caller's phone is off after 9pm")
            await listener.screenshot(path=screenshot_path("listener-amend-transfer.png"), full_page=True)
            await ticket.get_by_role("button", name="Send the change to the partner").click()
            await expect(listener.locator("#status")).to_contain_text("the partner has been told", timeout=WAIT)
            await expect(panel.locator("li.transfer")).to_contain_text("Changed after sending: version 1", timeout=WAIT)
            await expect(detail.locator("#amendments")).to_contain_text(
                "The caller's phone is off after 9pm", timeout=WAIT
            )
            await detail.get_by_role("button", name="Accept").click()
            await expect(panel.locator("li.transfer")).to_contain_text("Accepted", timeout=WAIT)  # live, no reload
            await detail.get_by_role("button", name="Confirm contact").click()
            await expect(partner.locator("#handover")).to_contain_text("Handover confirmed", timeout=WAIT)

            await expect(panel.locator("li.transfer")).to_contain_text("Handover confirmed", timeout=WAIT)
            await expect(panel.locator("li.transfer.handed")).to_have_count(1)
            await expect(listener.locator("#tonight")).to_contain_text("Handover confirmed", timeout=WAIT)
            assert listener_problems == [] and partner_problems == []
        finally:
            await helpline.close()
            await charity.close()
            await sim.close()
