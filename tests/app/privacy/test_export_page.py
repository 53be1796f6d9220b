"""The printable subject-access export in Chromium: what a caller said and what was done, laid out
to read on screen and on paper, at desk and phone widths, with no console error and no sideways
scroll."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import browser, screenshot_path  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD, load_demo_directory
from tests.scenarios import GOOD, answered, hang_up, listener, service_id, transfer
from tests.servers import serving
from tests.telephony.conftest import simulator_for

NUMBER = "+447700900601"
SUMMARY = (
    "Behind on rent since May after losing shifts; worried about an eviction letter and about telling "
    "their partner. Agreed a warm transfer to money advice."
)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_printable_export_reads_at_desk_and_phone_widths(make_harness, browser, screenshot_path):  # noqa: F811
    harness = await make_harness(public_url="http://127.0.0.1")
    await load_demo_directory(harness)
    sim = simulator_for(harness)
    _, client = await listener(harness, "sam", display_name="Sam")
    caller, card = await answered(harness, sim, client, NUMBER)
    assert (
        await client.post(f"/api/listener/sessions/{card['id']}/log", json=GOOD | {"summary": SUMMARY})
    ).status_code == 201
    assert (await transfer(client, card["id"], await service_id(harness, "ca-money"))).status_code == 201
    await hang_up(sim, caller)
    await sim.close()
    await harness.add_user("admin", "admin", display_name="Ada")

    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        problems: list[str] = []
        try:
            await page.goto("/login")
            await page.get_by_label("Username").fill("admin")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_load_state()
            # Off the admin's landing page (the API docs, which load from a CDN), onto the same site,
            # and settled (its favicon asked for) before the export page is watched.
            await page.goto("/api/me")
            await page.wait_for_load_state("networkidle")
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            # What an admin's form does: the number and the session's CSRF token, posted.
            await page.evaluate(
                """async (number) => {
                    const me = await (await fetch('/api/me')).json();
                    const form = document.createElement('form');
                    form.method = 'post';
                    form.action = '/admin/callers/export';
                    for (const [name, value] of [['number', number], ['csrf_token', me.csrf_token]]) {
                        const input = document.createElement('input');
                        input.type = 'hidden'; input.name = name; input.value = value;
                        form.append(input);
                    }
                    document.body.append(form);
                    form.submit();
                }""",
                "07700 900601",
            )
            await expect(page).to_have_url(f"{base}/admin/callers/export")
            await expect(page.locator("h1")).to_have_text(f"What Openline holds about the caller on {NUMBER}")
            await expect(page.locator("body")).to_contain_text(SUMMARY)
            await expect(page.locator("body")).to_contain_text("Number given")
            await expect(page.locator("body")).to_contain_text("23 Nov 2026, 20:00 UTC")
            await page.screenshot(path=screenshot_path("privacy-export-1440.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 844})
            sideways = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert sideways <= 0
            await page.screenshot(path=screenshot_path("privacy-export-390.png"), full_page=True)
            assert problems == []
        finally:
            await context.close()
