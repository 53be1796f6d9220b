"""Immediate risk in a browser (practice mode): flagged mid-call, the safeguarding record filled
beside the log (a field error shown, then saved), a crisis line dialled into the call and handed
over, the supervisor reading the record from the board and closing the flag with an outcome."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from playwright.async_api import expect

from app.core.audit import AuditEvent
from app.core.db import session_scope
from tests.browser.conftest import sign_in_at
from tests.scenarios import answered
from tests.servers import serving
from tests.telephony.conftest import listener, simulator_for

WAIT = 10_000
CRISIS_TEAM = "+441823000999"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_risk_flagged_record_kept_crisis_line_handed_over_and_flag_closed(make_harness, browser, screenshot_path):
    harness = await make_harness(
        public_url="http://127.0.0.1", crisis_lines=[{"name": "Somerset crisis team", "number": CRISIS_TEAM}]
    )
    sim = simulator_for(harness)
    await harness.add_user("jo", "supervisor", display_name="Jo")
    _, sam = await listener(harness, display_name="Sam")
    caller, _ = await answered(harness, sim, sam)
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1400})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            # The page's first look for a record (none yet) is answered only after the flag has
            # gone through, and later looks are held meanwhile: the late "none" must not hide the
            # form the flag has just opened.
            flagged, first_answered, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
            looks = []

            async def hold_looks(route):
                if route.request.method != "GET":
                    await route.continue_()
                    return
                looks.append(route)
                if len(looks) > 1:
                    await release.wait()
                    await route.continue_()
                    return
                answer = await route.fetch()  # asked before the flag: no record yet
                await flagged.wait()
                await route.fulfill(response=answer)

            def seen(response):
                if "immediate-risk" not in response.url:
                    return
                if response.request.method == "POST":
                    flagged.set()
                elif not first_answered.is_set():
                    first_answered.set()

            page.on("response", seen)
            await page.route("**/api/listener/calls/*/immediate-risk", hold_looks)
            await sign_in_at(page, base, "/listener", "sam")
            await expect(page.locator("#flag-risk")).to_be_visible(timeout=WAIT)
            await page.keyboard.press("r")
            await asyncio.wait_for(first_answered.wait(), WAIT / 1000)
            await page.wait_for_timeout(300)  # the page reads the late answer
            assert await page.locator("#sg-form").is_visible(), "a late 'no record' hid the safeguarding form"
            release.set()
            form = page.locator("#sg-form")
            await expect(form).to_be_visible(timeout=WAIT)
            await form.get_by_label("Concern").fill("Says they will end their life tonight")
            await form.get_by_label("Caller's location").fill("12 Example Road, Taunton")
            await page.locator("#sg-alerted-who").fill("A")  # too short: the server says so
            await page.locator("#sg-alerted-at").fill("20:05")
            await form.get_by_role("button", name="Save safeguarding record").click()
            await expect(page.locator("#sg-err-alerted")).to_contain_text("at least 2 characters", timeout=WAIT)
            await page.locator("#sg-alerted-who").fill("Ambulance (999)")
            await form.get_by_label("Emergency-service reference").fill("ASP-2231")
            await form.get_by_role("button", name="Save safeguarding record").click()
            await expect(page.locator("#sg-alerted-list")).to_contain_text("Ambulance (999) at", timeout=WAIT)
            await expect(page.locator("#sg-err-alerted")).to_have_text("")

            await page.get_by_role("button", name="Dial Somerset crisis team").click()
            await expect(page.locator("#crisis-status")).to_contain_text("Ringing Somerset crisis team", timeout=WAIT)
            await sim.deliver()
            await expect(page.locator("#crisis-status")).to_contain_text("has joined", timeout=WAIT)
            await page.screenshot(path=screenshot_path("safeguarding.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 844})
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the listener's page scrolls sideways on a phone ({width} px)"
            await page.screenshot(path=screenshot_path("safeguarding-phone.png"), full_page=True)
            await page.set_viewport_size({"width": 1440, "height": 1400})
            await page.get_by_role("button", name="Hand over and leave").click()
            await expect(page.locator("#crisis-status")).to_contain_text(
                "Handed over to Somerset crisis team", timeout=WAIT
            )
            await sim.deliver()
            room = next(r for r in sim.conferences.values() if caller.call.sid in r.participants)
            assert "listener" not in {p.label for p in room.participants.values()} and caller.state == "connected"

            board_context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1100})
            board = await board_context.new_page()
            board.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in_at(board, base, "/board", "jo")
            risk = board.locator("#b-alerts li.kind-immediate-risk").first
            await risk.get_by_role("button", name="Read the safeguarding record (audited)").click()
            await expect(risk.locator(".sg-view")).to_contain_text("12 Example Road, Taunton", timeout=WAIT)
            await expect(risk.locator(".sg-view")).to_contain_text("Somerset crisis team: handed-over, dialled by Sam")
            await board.screenshot(path=screenshot_path("board-safeguarding.png"), full_page=True)
            await risk.get_by_label("Outcome", exact=True).select_option("crisis-team-took-over")
            await risk.get_by_role("button", name="Close the immediate-risk flag with this outcome").click()
            await expect(board.locator("#b-alerts li.kind-immediate-risk")).to_have_count(0, timeout=WAIT)
            assert errors == []
            await board_context.close()
        finally:
            await context.close()
            await sim.close()
    async with session_scope(harness.runtime) as session:
        actions = [
            (a.actor, a.action)
            for a in (
                await session.scalars(
                    sa.select(AuditEvent)
                    .where(AuditEvent.subject_type == "safeguarding_record")
                    .order_by(AuditEvent.id)
                )
            ).all()
        ]
    # The listener's page reads the record back as live events arrive: each read audited, their
    # number up to the page; everything else in order.
    assert ("user:sam", "read_safeguarding_record") in actions
    actions = [a for a in actions if a != ("user:sam", "read_safeguarding_record")]
    assert actions == [
        ("user:sam", "flag_immediate_risk"),
        ("user:sam", "update_safeguarding_record"),
        ("user:sam", "dial_crisis_line"),
        ("telephony", "crisis_line_joined"),
        ("user:sam", "hand_over_to_crisis_line"),
        ("user:jo", "read_safeguarding_record"),
        ("user:jo", "close_immediate_risk"),
    ]
