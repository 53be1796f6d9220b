"""Browser tests: Debian's Chromium driven by Playwright (no browser download), against the app
served for real by uvicorn. Without Chromium they are skipped, unless
OPENLINE_TEST_REQUIRE_BROWSER=1 says they must run (CI)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def _browser_missing(reason: str) -> None:
    if os.environ.get("OPENLINE_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (OPENLINE_TEST_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(f"{reason}: browser tests skipped")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        _browser_missing(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _browser_missing("playwright is not installed")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def listener_page_ready(page: Any) -> None:
    """Wait until listener.js has drawn presence: a module script may still be loading just after
    sign-in, and a shortcut pressed before it listens does nothing."""
    from playwright.async_api import expect

    await expect(page.locator('input[name="presence"]:checked')).to_have_count(1, timeout=10_000)


def watch_console(page: Any) -> list[str]:
    """What a person would never see in normal use: page errors, console errors, and any error
    answer (4xx/5xx) to the page's own requests. A test asserts the list stays empty."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


async def sign_in_at(page: Any, base: str, path: str, username: str) -> None:
    """Open a page signed out, sign in on the login page it sends you to, and land back on it."""
    from playwright.async_api import expect

    from tests.conftest import PASSWORD

    await page.goto(path)
    await expect(page).to_have_url(f"{base}/login?next={path}")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{base}{path}")


@pytest.fixture
def screenshot_path(tmp_path: Path):
    """Where a test saves its picture: a temporary folder, or with OPENLINE_SCREENSHOTS=docs
    (``make screenshots``) the README's pictures, so ``make test`` leaves the tree untouched."""
    folder = Path(os.environ["OPENLINE_SCREENSHOTS"]) if os.environ.get("OPENLINE_SCREENSHOTS") else tmp_path

    def path_for(name: str) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / name)

    return path_for
