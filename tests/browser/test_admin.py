"""/admin in a real browser: an admin lands there after signing in, adds a listener who then signs
in, lands on /listener and takes a practice call, adds a service that a listener is then offered for a warm transfer,
and rotates a partner's webhook secret and sends a test delivery that a real receiver on
127.0.0.1 verifies with the new secret. Field errors are named; no console error; no sideways
scroll at 390 px."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.browser.conftest import listener_page_ready
from tests.conftest import PASSWORD, load_demo_directory
from tests.scenarios import logged_session
from tests.servers import serving
from tests.telephony.conftest import simulator_for
from transfers.notifications import verify_delivery

WAIT = 10_000  # ms
TABS = ["People", "API keys", "Webhooks", "Directory", "Needs", "The line", "Audit"]


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # The tests type bad input on purpose: Chromium logs each 422 answer as a failed load. Any
    # other console error (or any status) is a problem.
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text}") if m.type == "error" and "status of 422" not in m.text else None
        ),
    )
    return problems


async def _sign_in(page, base: str, username: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def _no_sideways_scroll(page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    wide = await page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)"
        ".slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"
    )
    assert width <= 0, f"the page scrolls {width}px sideways: {wide}"


async def _admin_page(harness, browser, base: str, width: int = 1440):
    context = await browser.new_context(base_url=base, viewport={"width": width, "height": 1000})
    page = await context.new_page()
    problems = _watch(page)
    await _sign_in(page, base, "root")
    await expect(page).to_have_url(f"{base}/admin")
    await expect(page.locator("#people tbody tr[data-user]")).not_to_have_count(0, timeout=WAIT)
    return context, page, problems


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_admin_adds_a_listener_who_signs_in_and_lands_on_the_listener_page(
    make_harness, browser, screenshot_path
):
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    await harness.add_user("root", "admin", display_name="Ada Admin")
    sim = simulator_for(harness)
    async with serving(harness.app) as base:
        context, page, problems = await _admin_page(harness, browser, base)
        try:
            form = page.locator("#person-form")
            # A bad desk phone is named under its field, and nothing is added.
            await form.get_by_label("Username").fill("kim")
            await form.get_by_label("Display name").fill("Kim Lee")
            await form.get_by_label("Password", exact=True).fill(PASSWORD)
            await form.get_by_label("Desk phone or SIP address").fill("my desk")
            await form.get_by_role("button", name="Add person").click()
            error = form.locator('[data-error-for="dial_address"]')
            await expect(error).to_contain_text("international form", timeout=WAIT)
            await expect(form.get_by_label("Desk phone or SIP address")).to_have_attribute("aria-invalid", "true")
            await expect(page.locator('#people tr[data-user="kim"]')).to_have_count(0)

            await form.get_by_label("Desk phone or SIP address").fill("sip:kim@desk.example.org")
            await form.get_by_role("button", name="Add person").click()
            row = page.locator('#people tr[data-user="kim"]')
            await expect(row).to_contain_text("Kim Lee", timeout=WAIT)
            await expect(row).to_contain_text("sip:kim@desk.example.org")
            await expect(page.locator("#status")).to_contain_text("Added kim")
            await page.screenshot(path=screenshot_path("admin.png"), full_page=True)

            # Every tab at a phone's width: no sideways scroll, nothing logged as an error.
            await page.set_viewport_size({"width": 390, "height": 900})
            for tab in TABS:
                await page.locator(".admin-tabs").get_by_role("button", name=tab, exact=True).click()
                await page.wait_for_load_state("networkidle")
                await _no_sideways_scroll(page)
            await page.locator(".admin-tabs").get_by_role("button", name="People", exact=True).click()
            await page.screenshot(path=screenshot_path("admin-phone.png"), full_page=False)
            assert not problems, problems

            # Kim signs in with no next address and lands where listeners work.
            kim_context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 900})
            kim = await kim_context.new_page()
            await _sign_in(kim, base, "kim")
            await expect(kim).to_have_url(f"{base}/listener", timeout=WAIT)
            await expect(kim.locator(".topbar .who")).to_contain_text("Kim Lee")
            # ...and takes a practice call there. Her desk phone is where she is rung; the caller's
            # card is on her dashboard either way.
            await listener_page_ready(kim)
            await kim.keyboard.press("a")
            await expect(kim.locator('input[name="presence"][value="available"]')).to_be_checked(timeout=WAIT)
            caller = sim.caller("+447700900321")
            await caller.arrive()
            await sim.deliver()
            await expect(kim.locator("#q-waiting")).to_have_text("1", timeout=WAIT)
            async with kim.expect_response("**/api/listener/calls/next") as taken:
                await kim.get_by_role("button", name="Take next caller").click()
            assert (await taken.value).status == 200
            await sim.deliver()
            await expect(kim.locator("#caller-number")).to_contain_text("321", timeout=WAIT)
            await kim_context.close()

            # The audit shows who added her.
            await page.set_viewport_size({"width": 1440, "height": 1000})
            await page.locator(".admin-tabs").get_by_role("button", name="Audit", exact=True).click()
            await page.locator("#audit-form").get_by_label("Who").fill("root")
            await page.locator("#audit-form").get_by_role("button", name="Search").click()
            await expect(page.locator("#audit tbody")).to_contain_text("add person", timeout=WAIT)
        finally:
            await context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_service_the_admin_adds_is_offered_to_a_listener(make_harness, browser, tmp_path):
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    await harness.add_user("root", "admin")
    session_id, listener = await logged_session(harness)
    async with serving(harness.app) as base:
        context, page, problems = await _admin_page(harness, browser, base)
        try:
            await page.locator(".admin-tabs").get_by_role("button", name="Directory", exact=True).click()
            form = page.locator("#service-form")
            await form.get_by_label("Organisation").select_option(label="Citizens Advice Somerset")
            await form.get_by_label("Slug").fill("ca-food")
            await form.get_by_label("Name", exact=True).fill("Food bank vouchers")
            await form.get_by_label("Food", exact=True).check()
            await form.get_by_label("Opening hours").fill("everyday 09:00")
            await form.get_by_role("button", name="Add service").click()
            # The half-written hours are named, and nothing is added.
            await expect(form.locator('[data-error-for="hours"]')).not_to_be_empty(timeout=WAIT)
            await expect(page.locator('#services tr[data-service="ca-food"]')).to_have_count(0)

            await form.get_by_label("Opening hours").fill("")
            await form.get_by_role("button", name="Add service").click()
            await expect(page.locator('#services tr[data-service="ca-food"]')).to_contain_text(
                "Food bank vouchers", timeout=WAIT
            )
            await page.screenshot(path=str(tmp_path / "admin-directory.png"), full_page=True)

            # Changing a service keeps what the form does not show (its urgent targets).
            await page.get_by_role("button", name="Change Money and benefits casework").click()
            await form.get_by_label("Capacity").fill("150")
            await form.get_by_role("button", name="Save changes").click()
            await expect(page.locator('#services tr[data-service="ca-money"]')).to_contain_text("150", timeout=WAIT)
            assert not problems, problems
        finally:
            await context.close()
    offered = await listener.get(f"/api/listener/sessions/{session_id}/suggestions", params={"needs": "food"})
    assert offered.status_code == 200, offered.text
    assert "Food bank vouchers" in [s["name"] for s in offered.json()]
    money = [s for s in (await listener.get("/api/directory/services")).json() if s["slug"] == "ca-money"][0]
    assert money["capacity"] == 150 and money["targets"]["urgent_accept_hours"] == 4


class Receiver:
    """A partner's endpoint that accepts only deliveries signed with ``secret``."""

    def __init__(self, clock):
        self.clock = clock
        self.secret = ""
        self.verified: list[bytes] = []
        self.refused = 0
        self.app = Starlette(routes=[Route("/hooks/openline", self.endpoint, methods=["POST"])])

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        ok = verify_delivery(
            self.secret,
            request.headers.get("x-openline-timestamp", ""),
            body,
            request.headers.get("x-openline-signature", ""),
            now_unix=self.clock.now().timestamp(),
        )
        if not ok:
            self.refused += 1
            return Response(status_code=401)
        self.verified.append(body)
        return Response(status_code=204)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_rotated_webhook_secret_signs_the_test_delivery(make_harness, browser, screenshot_path, tmp_path):
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    await harness.add_user("root", "admin")
    receiver = Receiver(harness.clock)
    async with serving(receiver.app) as hook_base, serving(harness.app) as base:
        context, page, problems = await _admin_page(harness, browser, base)
        try:
            await page.locator(".admin-tabs").get_by_role("button", name="Webhooks", exact=True).click()
            form = page.locator("#hook-form")
            await form.get_by_label("Organisation").select_option(label="Citizens Advice Somerset")
            await form.get_by_label("Webhook URL").fill("ftp://nowhere")
            await form.get_by_role("button", name="Save and rotate the secret").click()
            await expect(form.locator('[data-error-for="url"]')).to_contain_text("http", timeout=WAIT)

            await form.get_by_label("Webhook URL").fill(f"{hook_base}/hooks/openline")
            await form.get_by_role("button", name="Save and rotate the secret").click()
            first = await page.locator("[data-once]").text_content(timeout=WAIT)
            # Rotate again: the first secret no longer verifies, the second does.
            await form.get_by_role("button", name="Save and rotate the secret").click()
            await expect(page.locator("[data-once]")).not_to_have_text(first, timeout=WAIT)
            receiver.secret = first
            await page.get_by_role("button", name="Send a test delivery").click()
            await expect(page.locator("#status")).to_contain_text("HTTP 401", timeout=WAIT)
            assert receiver.refused == 1 and not receiver.verified

            await page.get_by_role("button", name="Save and rotate the secret").click()
            receiver.secret = await page.locator("[data-once]").text_content(timeout=WAIT)
            await page.get_by_role("button", name="Send a test delivery").click()
            await expect(page.locator("#status")).to_contain_text("was delivered", timeout=WAIT)
            assert len(receiver.verified) == 1 and b'"event":"webhook.test"' in receiver.verified[0]
            await expect(page.locator("#deliveries tbody tr").first).to_contain_text("Delivered")
            await page.screenshot(path=screenshot_path("admin-webhooks.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 900})
            await _no_sideways_scroll(page)
            await page.screenshot(path=str(tmp_path / "admin-webhooks-phone.png"), full_page=True)
            assert not problems, problems
        finally:
            await context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_line_tab_changes_what_callers_hear_and_closes_the_line_for_a_day(
    make_harness, browser, screenshot_path, tmp_path
):
    harness = await make_harness(public_url="http://127.0.0.1")
    await harness.add_user("root", "admin")
    sim = simulator_for(harness)
    async with serving(harness.app) as base:
        context, page, problems = await _admin_page(harness, browser, base)
        try:
            await page.locator(".admin-tabs").get_by_role("button", name="The line", exact=True).click()
            form = page.locator("#line-form")
            await expect(page.locator("#line-open-words")).to_have_text("Open now, 24 hours a day.", timeout=WAIT)
            await expect(form.get_by_label("Longest wait before voicemail (seconds)")).to_have_value("600")
            await expect(form.locator('[data-heard-for="closed_message"]')).to_contain_text("please call 999")

            # The preview follows the wording as it is typed, the emergency number kept at the end.
            greeting = form.get_by_label("Greeting, when a call arrives")
            await greeting.fill("Hello, this is the Somerset night line. A listener will be with you soon.")
            await expect(form.locator('[data-heard-for="greeting"]')).to_contain_text(
                "Somerset night line", timeout=WAIT
            )
            await expect(form.locator('[data-count-for="greeting"]')).to_contain_text("of 400 characters")
            await form.get_by_label("On hold: the caller's place ({position} is the number)").fill("You are next.")
            await expect(form.locator('[data-error-for="position_wording"]')).to_contain_text(
                "{position}", timeout=WAIT
            )
            await form.get_by_label("On hold: the caller's place ({position} is the number)").fill(
                "You are number {position} in the queue."
            )

            # Hours that run backwards are named under the field, and nothing is saved.
            await form.get_by_label("Weekly hours", exact=True).check()
            await form.get_by_label("Weekly hours, one line each: days opens closes").fill("daily 18:00 08:00")
            await form.get_by_role("button", name="Save the line's settings").click()
            await expect(form.locator('[data-error-for="hours"]')).to_contain_text("backwards", timeout=WAIT)
            await expect(page.locator("#status")).to_contain_text("Nothing was saved")
            await form.get_by_label("24 hours a day, every day").check()

            # A closure for today, with its reason; the day is shown in words beside the date.
            await page.get_by_role("button", name="Add a closure").click()
            await form.get_by_label("Closure 1: first day").fill("2026-11-23")
            await form.get_by_label("Closure 1: reason").fill("Staff training day")
            await expect(form.locator(".line-closure .date-words").first).to_have_text("Monday 23 November 2026")
            await expect(form.locator(".line-closure .date-words").nth(1)).to_have_text("Monday 23 November 2026")
            await form.get_by_role("button", name="Save the line's settings").click()
            await expect(page.locator("#status")).to_contain_text("Saved", timeout=WAIT)
            await expect(page.locator("#line-open-words")).to_contain_text("Closed today: Staff training day")
            await page.reload()
            await expect(form.get_by_label("Closure 1: reason")).to_have_value("Staff training day", timeout=WAIT)
            await expect(form.locator(".line-closure .date-words").first).to_have_text("Monday 23 November 2026")
            await page.screenshot(path=screenshot_path("admin-line.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 900})
            await page.screenshot(path=screenshot_path("admin-line-phone.png"), full_page=True)
            await _no_sideways_scroll(page)
            assert not problems, problems

            # The audit says who changed it; a caller now hears the closed message.
            await page.set_viewport_size({"width": 1440, "height": 1000})
            await page.locator(".admin-tabs").get_by_role("button", name="Audit", exact=True).click()
            await page.locator("#audit-form").get_by_role("button", name="Search").click()
            await expect(page.locator("#audit tbody")).to_contain_text("change line settings", timeout=WAIT)
        finally:
            await context.close()
    heard = await sim.caller().arrive()
    assert "cannot take calls" in heard and "999" in heard
    shown = (await (await harness.signed_in("root")).get("/api/admin/line")).json()
    assert shown["greeting"].startswith("Hello, this is the Somerset night line")
    assert shown["position_wording"] == "You are number {position} in the queue."
    await sim.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_admin_changes_an_organisation_and_a_service_s_targets(
    make_harness, browser, screenshot_path, tmp_path
):
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    await harness.add_user("root", "admin")
    async with serving(harness.app) as base:
        context, page, problems = await _admin_page(harness, browser, base)
        try:
            await page.locator(".admin-tabs").get_by_role("button", name="Directory", exact=True).click()
            await page.get_by_role("button", name="Change Citizens Advice Somerset").click()
            org = page.locator("#org-form")
            await expect(org.get_by_label("Slug")).to_be_disabled()
            await org.get_by_label("Website").fill("citizensadvice")
            await org.get_by_label("Contact email").fill("casework@ca-somerset.example.org")
            await org.get_by_role("button", name="Save changes").click()
            await expect(org.locator('[data-error-for="website"]')).to_contain_text("https://", timeout=WAIT)
            await org.get_by_label("Website").fill("https://ca-somerset.example.org")
            await org.get_by_role("button", name="Save changes").click()
            row = page.locator('#organisations tr[data-organisation="citizens-advice"]')
            await expect(row).to_contain_text("casework@ca-somerset.example.org", timeout=WAIT)
            await expect(org.get_by_role("button", name="Add organisation")).to_be_visible()

            await page.get_by_role("button", name="Change Money and benefits casework").click()
            service = page.locator("#service-form")
            await expect(service.get_by_label("Urgent: accept within")).to_have_value("4")
            await service.get_by_label("Urgent: accept within").fill("0")
            await service.get_by_role("button", name="Save changes").click()
            await expect(service.locator('[data-error-for="urgent_accept_hours"]')).not_to_be_empty(timeout=WAIT)
            await service.get_by_label("Urgent: accept within").fill("3")
            await service.get_by_label("Locality team for").select_option(label="Mendip")
            await service.get_by_role("button", name="Save changes").click()
            await expect(page.locator("#status")).to_contain_text("Saved the changes", timeout=WAIT)
            await page.screenshot(path=str(tmp_path / "admin-directory-forms.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 900})
            await _no_sideways_scroll(page)
            await page.screenshot(path=str(tmp_path / "admin-directory-phone.png"), full_page=True)
            assert not problems, problems
        finally:
            await context.close()
    admin = await harness.signed_in("root")
    money = [s for s in (await admin.get("/api/directory/services")).json() if s["slug"] == "ca-money"][0]
    assert money["targets"]["urgent_accept_hours"] == 3 and money["locality_team_for"] == "mendip"
    [ca] = [o for o in (await admin.get("/api/directory/organisations")).json() if o["slug"] == "citizens-advice"]
    assert ca["website"] == "https://ca-somerset.example.org"
