"""The supervisors' board in a browser: a warm transfer nobody accepted in time shows up live and
is re-routed from there."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from app.core.jobs import run_due_jobs
from tests.browser.conftest import sign_in_at
from tests.conftest import load_demo_directory
from tests.servers import serving
from tests.transfers.test_tickets import logged_session, service_id, transfer

WAIT = 10_000


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_breached_warm_transfer_is_rerouted_from_the_board(make_harness, browser):
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    await harness.add_user("jo", "supervisor", display_name="Jo")
    session_id, listener = await logged_session(harness)
    ticket_id = (await transfer(listener, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            await sign_in_at(page, base, "/board", "jo")
            await expect(page.locator("#b-transfers")).to_contain_text("1 requested", timeout=WAIT)
            harness.clock.set(datetime(2026, 11, 25, 17, 0, tzinfo=UTC))  # the accept-by passes
            await run_due_jobs(harness.runtime)
            breached = page.locator("#b-breached tr")
            await expect(breached).to_have_count(1, timeout=WAIT)  # live: the breach event redraws the board
            await expect(breached).to_contain_text(f"#{ticket_id}")
            await breached.get_by_role("button", name=f"Re-route ticket {ticket_id} to the next service").click()
            await expect(page.locator("#b-status")).to_contain_text(f"Ticket #{ticket_id} re-routed", timeout=WAIT)
            await expect(page.locator("#b-breached tr")).to_have_count(0, timeout=WAIT)
            assert errors == []
        finally:
            await context.close()
    moved = (await listener.get(f"/api/helpline/tickets/{ticket_id}")).json()
    assert moved["status"] == "cancelled" and moved["rerouted_to_id"]
