"""Every page a person opens (/login, /listener, /board, /partner) at a desk (1440 px) and on a
phone (390 px): no console error and no page error in normal use, nothing scrolls sideways, and
what each page says is in the helpline's words: 24-hour times with the day when it is not today,
minutes for a wait of minutes, an area's name rather than its slug, a partner's decline reason.

The server's clock is the harness's fake clock (Monday 23 November, 20:00) while the browser's is
real: every page judges "today" by the server's clock, so a time shows its day exactly when it is
not today there."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.conftest import sign_in_at, watch_console
from tests.conftest import load_demo_directory
from tests.scenarios import GOOD, logged_session, service_id, transfer
from tests.servers import serving
from tests.telephony.conftest import simulator_for

WAIT = 10_000
WIDTHS = (1440, 390)
DECLINE = "We cannot take new money cases this week"
# "Wed 25 Nov 17:00": a day, a date and a 24-hour clock, never "02:16 PM".
DAY_AND_TIME = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2}( \d{4})? \d{2}:\d{2}"


@pytest.fixture
def page_shots(tmp_path):
    """Where the pictures of each page at each width go: a temporary folder, or
    OPENLINE_PAGE_SHOTS to look at them (not docs/: they are not the README's pictures)."""
    folder = Path(os.environ.get("OPENLINE_PAGE_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return lambda name: str(folder / name)


async def assert_fits(page, name: str, shots) -> None:
    """At each width: nothing wider than the window, and a picture to look at."""
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        await page.wait_for_timeout(100)  # one layout after the resize
        scroll, inner = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{name} scrolls sideways at {width} px ({scroll} > {inner})"
        await page.screenshot(path=shots(f"every-{name}-{width}.png"), full_page=True)


async def sign_in(browser, base, path, username):
    context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    problems = watch_console(page)
    await sign_in_at(page, base, path, username)
    return context, page, problems


async def call_with_log(harness):
    """Sam on a simulated call, its log recorded with the caller's consent: warm transfers follow it."""
    await harness.add_user("sam", "listener", display_name="Sam")
    sam = await harness.signed_in("sam")
    sim = simulator_for(harness)
    await sim.caller("+447700900555").arrive()
    await sim.deliver()
    assert (await sam.put("/api/listener/presence", json={"status": "available"})).status_code == 200
    assert (await sam.post("/api/listener/calls/next")).status_code == 200
    await sim.deliver()
    session_id = (await sam.get("/api/listener/sessions/current")).json()["id"]
    assert (await sam.post(f"/api/listener/sessions/{session_id}/log", json=GOOD)).status_code == 201
    return session_id, sam, sim


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_page_fits_a_desk_and_a_phone_without_a_console_error(make_harness, browser, page_shots):
    harness = await make_harness(public_url="http://127.0.0.1")
    organisations = await load_demo_directory(harness)
    await harness.add_user("jo", "supervisor", display_name="Jo")
    await harness.add_user(
        "ca-worker", "partner", organisation_id=organisations["citizens-advice"], display_name="Priya"
    )
    session_id, listener, sim = await call_with_log(harness)
    ca_money = await service_id(harness, "ca-money")
    accepted = (await transfer(listener, session_id, ca_money, locality="mendip")).json()["ticket_id"]
    declined = (await transfer(listener, session_id, ca_money, caller_name="Robin")).json()["ticket_id"]
    worker = await harness.signed_in("ca-worker")
    harness.clock.advance(minutes=6)  # accepted six minutes after it was made
    assert (await worker.post(f"/api/partner/v1/tickets/{accepted}/accept")).status_code == 200
    answer = await worker.post(
        f"/api/partner/v1/tickets/{declined}/decline",
        json={"reason": DECLINE, "outcome_code": "not-eligible", "reroute": "helpline"},
    )
    assert answer.status_code == 200, answer.text

    try:
        await visit_every_page(harness, browser, page_shots, accepted=accepted, declined=declined)
    finally:
        await sim.close()


async def visit_every_page(harness, browser, shots, *, accepted, declined):
    async with serving(harness.app) as base:
        # Signed out: the login page.
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 900})
        page = await context.new_page()
        problems = watch_console(page)
        try:
            await page.goto("/login")
            await expect(page.get_by_label("Username")).to_be_visible()
            # Controls need 3:1 against the panel they sit on (WCAG 1.4.11).
            ratio = await page.evaluate(CONTRAST, "#username")
            assert ratio >= 3, f"the input's border is {ratio:.2f}:1 against its panel"
            await assert_fits(page, "login", shots)
            assert problems == [], problems
        finally:
            await context.close()

        # The listener: a call is running, with one warm transfer accepted and one declined.
        context, page, problems = await sign_in(browser, base, "/listener", "sam")
        try:
            panel = page.locator("#transfer-panel")
            await expect(panel.locator("li.transfer")).to_have_count(2, timeout=WAIT)
            handed = panel.locator(f'li.transfer[data-ticket="{accepted}"]')
            await expect(handed).to_contain_text("Accepted: the partner will contact the caller")
            await expect(handed).to_contain_text(re.compile(rf"contact by {DAY_AND_TIME}"))
            await expect(page.locator("#call-started")).to_have_text("Call started 20:00")  # today, on the server
            assert not re.search(r"\b(AM|PM)\b", await panel.inner_text())
            refused = panel.locator(f'li.transfer[data-ticket="{declined}"]')
            await expect(refused).to_contain_text("Declined by the partner")
            await expect(refused).to_contain_text(f"The partner's reason: {DECLINE}")

            # N while a call runs: the page says so, and asks the server nothing.
            asked: list[str] = []
            page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/calls/next") else None)
            await page.keyboard.press("n")
            await expect(page.locator("#status")).to_contain_text("You are with a caller now")
            assert asked == []
            await assert_fits(page, "listener", shots)
            assert problems == [], problems
        finally:
            await context.close()

        # The board: minutes for a wait of minutes, and words for counts.
        context, page, problems = await sign_in(browser, base, "/board", "jo")
        try:
            summary = page.locator("#b-transfers")
            await expect(summary).to_contain_text("median time to accept 6 min 00 s", timeout=WAIT)
            await expect(summary).to_contain_text("1 accepted")
            await expect(summary).to_contain_text("1 follow-up open")
            await assert_fits(page, "board", shots)
            assert problems == [], problems
        finally:
            await context.close()

        # The partner: the caller's area by its name, times with their day.
        context, page, problems = await sign_in(browser, base, "/partner", "ca-worker")
        try:
            await page.get_by_role("button", name=f"Open ticket {accepted}").click()
            detail = page.locator("#detail")
            await expect(detail.locator("dd", has_text="Mendip")).to_have_count(1, timeout=WAIT)
            assert "mendip" not in await detail.inner_text()
            # Today on the server's clock is a time alone; the contact target days away has its day.
            await expect(page.locator(f'tr[data-ticket="{accepted}"]')).to_contain_text("arrived 20:00")
            await expect(detail).to_contain_text(re.compile(rf"Contact by\s*{DAY_AND_TIME}"))
            await assert_fits(page, "partner", shots)
            assert problems == [], problems
        finally:
            await context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_log_recorded_while_openline_is_unreachable_is_kept_and_sent_when_it_answers(
    make_harness, browser, page_shots
):
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    session_id, listener = await logged_session(harness, log=None)
    async with serving(harness.app) as base:
        context, page, _problems = await sign_in(browser, base, "/listener", "sam")
        try:
            await expect(page.locator("#caller-number")).to_be_visible(timeout=WAIT)
            await page.get_by_label("Title").fill("Could not sleep again")
            await page.get_by_label("Summary").fill("Talked it through; feels calmer")
            await page.get_by_label("No", exact=True).check()
            await page.get_by_label("Outcome").select_option("supported")
            # The server is unreachable: every log request fails on the way out.
            await page.route("**/api/listener/sessions/*/log", lambda route: route.abort())
            await page.get_by_role("button", name="Record log").click()
            status = page.locator("#status")
            await expect(status).to_contain_text("Not saved yet: Openline cannot be reached", timeout=WAIT)
            await expect(status).to_contain_text("sent again by itself")
            # Beside the button too: the status area is out of sight at the foot of the log.
            await expect(page.locator("#log-pending")).to_be_in_viewport()
            await expect(page.locator("#log-pending")).to_contain_text("Not saved yet")
            await expect(page.get_by_label("Title")).to_have_value("Could not sleep again")  # nothing lost
            await expect(page.get_by_label("Title")).to_be_editable()
            await page.screenshot(path=page_shots("log-waiting-to-send.png"))
            assert (await listener.get(f"/api/listener/sessions/{session_id}/log")).status_code == 404

            # Openline answers again: the page sends the log by itself and says plainly it is saved.
            await page.unroute("**/api/listener/sessions/*/log")
            await expect(status).to_contain_text(
                "Log recorded: Openline answered again and it is saved", timeout=20_000
            )
            await expect(page.locator("#log-done")).to_be_visible()
            await expect(page.locator("#log-pending")).to_be_hidden()
            saved = await listener.get(f"/api/listener/sessions/{session_id}/log")
            assert saved.status_code == 200 and saved.json()["title"] == "Could not sleep again"
        finally:
            await context.close()


# The contrast ratio (WCAG relative luminance) of an element's border against the background of the
# nearest ancestor that paints one.
CONTRAST = """(selector) => {
  const node = document.querySelector(selector);
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let back = node.parentElement;
  while (back && (rgb(getComputedStyle(back).backgroundColor)[3] === 0)) back = back.parentElement;
  const a = lum(rgb(getComputedStyle(node).borderTopColor));
  const b = lum(rgb(getComputedStyle(back || document.body).backgroundColor));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""
