"""``/listener``, the headset dashboard page, and ``/`` sending each person to their own page."""

import re

import pytest

from tests.conftest import load_demo_directory


async def _add(harness, username, role):
    """A user of ``role``; a partner belongs to one of the demo directory's organisations."""
    org_id = None
    if role == "partner":
        org_id = next(iter((await load_demo_directory(harness)).values()))
    return await harness.add_user(username, role, organisation_id=org_id)


async def test_the_dashboard_renders_for_a_listener_with_its_csrf_token_and_the_transfer_panel(harness):
    await harness.add_user("sam", "listener", display_name="Sam")
    client = await harness.signed_in("sam")
    page = await client.get("/listener")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert token and token.group(1) == client.headers["X-CSRF-Token"]
    assert '<section id="transfer-panel" aria-label="Warm transfer"></section>' in page.text
    assert '<script type="module" src="/static/listener.js"></script>' in page.text
    # headset.js, a classic deferred script, runs after listener.js has set window.openline.
    assert page.text.index("/static/listener.js") < page.text.index("/static/headset.js")
    assert "Sam" in page.text and 'action="/logout"' in page.text
    for path in ("/static/core.js", "/static/listener.js", "/static/transfer-panel.js", "/static/openline.css"):
        assert (await client.get(path)).status_code == 200, path
    # A module is only run when served as JavaScript.
    assert "javascript" in (await client.get("/static/core.js")).headers["content-type"]


async def test_every_log_field_has_a_label(harness):
    await harness.add_user("sam", "listener")
    client = await harness.signed_in("sam")
    text = (await client.get("/listener")).text
    for field in ("contact_type", "consent_covers", "title", "summary", "notes", "outcome", "correction_reason"):
        assert f'<label for="f-{field}">' in text and f'id="f-{field}"' in text, field
    for legend in ("Needs", "Risk level", "Consent to share"):
        assert f"<legend>{legend}</legend>" in text


async def test_a_supervisor_may_open_it_too(harness):
    await harness.add_user("sue", "supervisor")
    client = await harness.signed_in("sue")
    assert (await client.get("/listener")).status_code == 200


async def test_signed_out_goes_to_the_login_page_and_comes_back(client):
    page = await client.get("/listener")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/listener"


async def test_a_partner_gets_the_forbidden_page(harness):
    await _add(harness, "pat", "partner")
    client = await harness.signed_in("pat")
    page = await client.get("/listener")
    assert page.status_code == 403
    assert "This page is not for your account" in page.text


@pytest.mark.parametrize(
    ("role", "home"),
    [("listener", "/listener"), ("supervisor", "/board"), ("partner", "/partner"), ("admin", "/admin")],
)
async def test_the_root_sends_each_person_to_their_own_page(harness, role, home):
    await _add(harness, "someone", role)
    client = await harness.signed_in("someone")
    response = await client.get("/")
    assert response.status_code == 303 and response.headers["location"] == home


async def test_the_root_sends_strangers_to_sign_in(client):
    response = await client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.parametrize(
    "role, home, pages",
    [
        ("listener", "/listener", []),
        ("supervisor", "/board", ["/listener", "/board", "/reports", "/reports/capacity"]),
        ("admin", "/admin", ["/admin", "/board", "/reports", "/reports/capacity"]),
        ("partner", "/partner", []),
        ("commissioner", "/reports", []),
    ],
)
async def test_the_top_bar_offers_each_person_the_pages_they_can_open(harness, role, home, pages):
    await _add(harness, "someone", role)
    client = await harness.signed_in("someone")
    page = await client.get(home)
    assert page.status_code == 200
    nav = re.search(r'<nav class="nav" aria-label="Pages">(.*?)</nav>', page.text, re.S)
    links = re.findall(r'<a href="([^"]+)"', nav.group(1)) if nav else []
    assert links == pages
    if pages:
        assert f'<a href="{home}" aria-current="page">' in nav.group(1)
    for path in links:  # never a link to a page that refuses them
        assert (await client.get(path)).status_code == 200, path
