"""Each role lands where it works after signing in, and the API documentation needs no CDN."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.conftest import PUBLIC_URL, login


async def _organisation_id(harness) -> int:
    from app.core.db import session_scope
    from transfers.directory.models import Organisation

    async with session_scope(harness.runtime) as session:
        now = harness.clock.now()
        org = Organisation(slug="mind", name="Mind", created_at=now, updated_at=now)
        session.add(org)
        await session.flush()
        return org.id


@pytest.mark.parametrize(
    ("role", "home"),
    [("listener", "/listener"), ("supervisor", "/board"), ("admin", "/admin"), ("partner", "/partner")],
)
async def test_signing_in_without_next_lands_each_role_where_it_works(harness, client, role, home):
    org_id = await _organisation_id(harness) if role == "partner" else None
    await harness.add_user("someone", role, organisation_id=org_id)
    response = await login(client, "someone")
    assert response.status_code == 303 and response.headers["location"] == home
    # The page answers: no blank page, no forbidden page.
    landed = await client.get(home)
    assert landed.status_code == 200 and "<main" in landed.text


async def test_a_next_address_still_wins(harness, client):
    await harness.add_user("jo", "supervisor")
    token_page = await client.get("/login?next=/listener")
    token = re.search(r'name="csrf-token" content="([^"]+)"', token_page.text).group(1)
    response = await client.post(
        "/login", data={"username": "jo", "password": "correct horse battery", "csrf_token": token, "next": "/listener"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/listener"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_documentation_loads_only_same_origin_assets_that_answer(client, page):
    html = (await client.get(page)).text
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets, html
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, "the page loads its viewer's script"
    for asset in assets:
        parts = urlsplit(asset)
        assert not parts.netloc or f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL, f"{page} loads {asset}"
        answer = await client.get(parts.path)
        assert answer.status_code == 200 and answer.content, (asset, answer.status_code)
    # The viewer fetches the OpenAPI document from here too.
    assert "/openapi.json" in html and (await client.get("/openapi.json")).status_code == 200
    assert "cdn" not in html.lower() and "fonts.googleapis" not in html
