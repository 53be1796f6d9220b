"""The supervisors' board in a browser: a warm transfer nobody accepted in time shows up live and
is re-routed from there."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from app.core.db import session_scope
from app.core.jobs import run_due_jobs
from tests.browser.conftest import sign_in_at, watch_console
from tests.conftest import load_demo_directory
from tests.scenarios import logged_session, service_id, transfer
from tests.servers import serving
from transfers.directory.models import Service
from transfers.tickets.models import TransferTicket

WAIT = 10_000


async def give_up(harness, ticket_id):
    async with session_scope(harness.runtime) as session:
        ticket = await session.get(TransferTicket, ticket_id)
        service = await session.get(Service, ticket.service_id)
        org = service.organisation_id
    await harness.add_user("team-worker", "partner", organisation_id=org)
    worker = await harness.signed_in("team-worker")
    for action, body in (
        ("accept", None),
        ("contact-attempt", None),
        ("give-up", {"reason": "no answer after five tries", "outcome_code": "could-not-contact"}),
    ):
        response = await worker.post(f"/api/partner/v1/tickets/{ticket_id}/{action}", json=body)
        assert response.status_code == 200, response.text


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
        errors = watch_console(page)
        try:
            await sign_in_at(page, base, "/board", "jo")
            await expect(page.locator("#b-transfers")).to_contain_text("1 waiting to be accepted", timeout=WAIT)
            harness.clock.set(datetime(2026, 11, 25, 17, 0, tzinfo=UTC))  # the accept-by passes
            await run_due_jobs(harness.runtime)
            breached = page.locator("#b-breached tr")
            await expect(breached).to_have_count(1, timeout=WAIT)  # live: the breach event redraws the board
            await expect(breached).to_contain_text(f"#{ticket_id}")
            # The breached-ticket table scrolls inside its own box on a phone; the board never does.
            await page.set_viewport_size({"width": 390, "height": 844})
            scroll, inner = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert scroll <= inner, f"the board scrolls sideways at 390 px ({scroll} px)"
            await page.set_viewport_size({"width": 1440, "height": 1000})
            await breached.get_by_role("button", name=f"Re-route ticket {ticket_id} to the next service").click()
            await expect(page.locator("#b-status")).to_contain_text(f"Ticket #{ticket_id} re-routed", timeout=WAIT)
            await expect(page.locator("#b-breached tr")).to_have_count(0, timeout=WAIT)

            # The re-routed caller's new partner gives up on reaching them: back with the helpline.
            rerouted = (await listener.get(f"/api/helpline/tickets/{ticket_id}")).json()["rerouted_to_id"]
            await give_up(harness, rerouted)
            follow_up = page.locator("#b-follow-ups li.follow-up")
            await expect(follow_up).to_have_count(1, timeout=WAIT)  # live
            await expect(follow_up).to_contain_text("no answer after five tries")
            await follow_up.get_by_label("What was done for the caller").fill("rang them; booked a call")
            await harness.add_user("alex", "listener")
            alex = await harness.signed_in("alex")
            async with page.expect_response("**/api/supervisor/board"):
                await alex.put("/api/listener/presence", json={"status": "available"})  # a live event: a redraw
            await expect(page.locator("#b-presence")).to_contain_text("1 available", timeout=WAIT)
            await expect(follow_up.get_by_label("What was done for the caller")).to_have_value(
                "rang them; booked a call"
            )
            await follow_up.get_by_role("button").click()
            await expect(page.locator("#b-status")).to_contain_text("Follow-up resolved.", timeout=WAIT)
            await expect(page.locator("#b-follow-ups")).to_contain_text("None open.")
            assert errors == []
        finally:
            await context.close()
    moved = (await listener.get(f"/api/helpline/tickets/{ticket_id}")).json()
    assert moved["status"] == "cancelled" and moved["rerouted_to_id"]
