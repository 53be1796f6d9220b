"""The commissioner's authorisation matrix: every route that knows who is asking refuses a
commissioner, except the reports themselves and their own account (sign in and out, who am I)."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute, iter_route_contexts

from app.core.deps import get_current_partner, get_current_user, get_optional_user
from tests.conftest import load_demo_directory

# Where a commissioner may go: the reports, and their own account.
OPEN_TO_COMMISSIONERS = {
    ("GET", "/reports"),
    ("GET", "/api/reports/{section}"),
    ("GET", "/api/me"),
    ("GET", "/"),  # sends them to their landing page, /reports
    ("GET", "/login"),  # signed in already: sent to /reports
    ("POST", "/login"),
    ("POST", "/logout"),
}
PERSON_GUARDS = {get_current_user, get_current_partner, get_optional_user}


def _calls(dependant) -> set:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def person_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route that looks at who is signed in."""
    return sorted(
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and PERSON_GUARDS & _calls(route.dependant)
        for method in route.methods
        if method != "HEAD"
    )


async def test_a_commissioner_is_refused_everywhere_but_the_reports(harness):
    await load_demo_directory(harness)
    await harness.add_user("kim", "commissioner")
    kim = await harness.signed_in("kim")
    me = await kim.get("/api/me")
    assert me.status_code == 200 and me.json()["role"] == "commissioner"
    routes = person_routes(harness.app)
    assert len(routes) > 60
    let_in = []
    for method, path in routes:
        if (method, path) in OPEN_TO_COMMISSIONERS:
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = await kim.request(method, url, json={} if method in ("POST", "PUT", "PATCH") else None)
        if response.status_code != 403:
            let_in.append((method, path, response.status_code))
    assert let_in == []
    assert (await kim.get("/reports")).status_code == 200
    assert (await kim.get("/api/reports/calls")).status_code == 200
    home = await kim.get("/", follow_redirects=False)
    assert home.headers["location"] == "/reports"


async def test_a_commissioner_lands_on_the_reports_and_others_cannot_read_them(harness, client):
    from tests.conftest import login

    await harness.add_user("kim", "commissioner")
    landed = await login(client, "kim")
    assert landed.status_code == 303 and landed.headers["location"] == "/reports"
    await harness.add_user("sam", "listener")
    sam = await harness.signed_in("sam")
    assert (await sam.get("/api/reports/calls")).status_code == 403
    assert (await sam.get("/reports")).status_code == 403
    signed_out = harness.client()
    assert (await signed_out.get("/api/reports/calls")).status_code == 401
    assert (await signed_out.get("/reports", follow_redirects=False)).headers["location"] == "/login?next=/reports"


async def test_the_cli_adds_a_commissioner(harness, db_url, monkeypatch):
    import asyncio

    from typer.testing import CliRunner

    from app.cli import cli

    monkeypatch.setenv("OPENLINE_DATABASE_URL", db_url)
    monkeypatch.setenv("OPENLINE_ENVIRONMENT", "development")
    runner = CliRunner()
    args = ["user", "add", "kim", "--role", "commissioner", "--password", "long enough pw"]
    # The CLI runs its own event loop: in a thread beside the test's.
    added = await asyncio.to_thread(runner.invoke, cli, args)
    assert added.exit_code == 0, added.output
    assert "added commissioner kim" in added.output
    kim = harness.client()
    from tests.conftest import login

    assert (await login(kim, "kim", "long enough pw")).headers["location"] == "/reports"
