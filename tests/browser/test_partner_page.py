"""A partner caseworker's queue on /partner, in a real browser: a warm transfer waits with its
target counting down, another arrives live, the worker opens one, accepts it, reaches the caller
and sees the handover confirmed.

The server's clock is the harness's fake clock (Monday 20:00) while the browser's is real: the
countdowns are right only because the page counts against the server's "now"."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import sign_in_at
from tests.conftest import load_demo_directory
from tests.scenarios import TRANSFER_NUMBER as NUMBER
from tests.scenarios import logged_session, service_id, transfer
from tests.servers import serving

WAIT = 10_000  # ms: generous for a busy CI machine; expect() returns as soon as it holds


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_caseworker_accepts_a_warm_transfer_and_confirms_the_handover(make_harness, browser, screenshot_path):
    # Plain http, so the browser keeps the session cookie (it is https-only on an https public URL).
    harness = await make_harness(public_url="http://127.0.0.1")
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca_money = await service_id(harness, "ca-money")
    made = await transfer(listener, session_id, ca_money)
    assert made.status_code == 201, made.text
    first = made.json()["ticket_id"]
    await harness.add_user(
        "ca-worker", "partner", organisation_id=organisations["citizens-advice"], display_name="Priya Shah"
    )

    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        try:
            await sign_in_at(page, base, "/partner", "ca-worker")
            await expect(page.locator(".topbar")).to_contain_text("Citizens Advice Somerset")
            await expect(page.locator(".topbar .who")).to_contain_text("Priya Shah")
            await expect(page.locator("#conn")).to_be_hidden(timeout=WAIT)  # live updates are connected

            # Monday 20:00 on the server; the service opens weekdays 9-17 and accepts within 16 opening
            # hours: Wednesday 17:00, 1 day 21 hours away (a moment less once the page's own clock ticks).
            row = page.locator(f'tr[data-ticket="{first}"]')
            await expect(row).to_be_visible(timeout=WAIT)
            await expect(row).to_contain_text(re.compile(r"Accept within 1d 2[01]h"))
            await expect(row).to_contain_text("Money")

            # A second caller is handed over while the page is open: it appears without a reload.
            second_session, second_listener = await logged_session(harness, "alex")
            urgent = await transfer(second_listener, second_session, ca_money, urgent=True, caller_name="Robin")
            assert urgent.status_code == 201, urgent.text
            urgent_row = page.locator(f'tr[data-ticket="{urgent.json()["ticket_id"]}"]')
            await expect(urgent_row).to_be_visible(timeout=WAIT)
            await expect(urgent_row).to_contain_text("Urgent")
            await expect(urgent_row).to_contain_text(re.compile(r"Accept within 1[67]h"))
            await expect(page.locator("#status")).to_contain_text("New warm transfer")

            await page.get_by_role("button", name=f"Open ticket {first}").click()
            detail = page.locator("#detail")
            await expect(detail).to_contain_text("Jamie", timeout=WAIT)
            await expect(detail).to_contain_text(NUMBER)
            await expect(detail).to_contain_text("needs, summary and number")
            await expect(detail).to_contain_text("Behind on rent since May")
            await expect(page.locator("#detail-title")).to_be_focused()

            await detail.get_by_role("button", name="Accept").click()
            await expect(page.locator("#status")).to_contain_text(f"You accepted ticket #{first}", timeout=WAIT)
            await expect(row).to_contain_text("Contact within", timeout=WAIT)

            await detail.get_by_role("button", name="Confirm contact").click()
            await expect(page.locator("#handover")).to_contain_text("Handover confirmed", timeout=WAIT)
            await expect(row).to_contain_text("Support under way", timeout=WAIT)
            await expect(detail.locator(".partner-trail li")).to_have_count(3)

            await page.screenshot(path=screenshot_path("partner-queue.png"))

            # Declining asks why (a labelled, required reason) and where the caller goes next.
            await page.get_by_role("button", name=f"Open ticket {urgent.json()['ticket_id']}, urgent").click()
            await expect(detail).to_contain_text("Robin", timeout=WAIT)
            await detail.get_by_role("button", name="Decline…").click()
            # ...first as a coded reason, in the helpline's words, then in the partner's own.
            code = detail.get_by_label("Why did it not go through? (required)")
            await expect(code).to_be_focused()
            assert "No capacity" in await code.locator("option").all_inner_texts()
            await expect(detail.get_by_label("Send to the next suggested service")).to_be_checked()
            await detail.get_by_role("button", name="Decline", exact=True).click()
            await expect(detail.locator(".partner-field-error")).to_have_text("Choose why it did not go through.")
            await code.select_option(label="No capacity")
            await detail.get_by_role("button", name="Decline", exact=True).click()
            await expect(detail.locator(".partner-field-error")).to_have_text("Write a reason first.")
            await expect(detail.get_by_label("Why are you declining? (required)")).to_be_focused()
            await page.screenshot(path=screenshot_path("partner-decline-form.png"))
            await page.set_viewport_size({"width": 390, "height": 844})
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            await page.screenshot(path=screenshot_path("partner-decline-form-390.png"), full_page=True)
            await page.set_viewport_size({"width": 1440, "height": 900})
            await detail.get_by_role("button", name="Back").click()
            await expect(detail.get_by_role("button", name="Accept")).to_be_visible()
            assert not problems, problems
        finally:
            await context.close()
