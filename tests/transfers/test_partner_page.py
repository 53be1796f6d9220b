"""The partner dashboard at /partner: the organisation's own queues for its workers, nobody else's."""

from __future__ import annotations

from tests.conftest import load_demo_directory


async def test_a_partner_worker_sees_their_organisation_and_its_queues(harness):
    organisations = await load_demo_directory(harness)
    await harness.add_user(
        "ca-worker", "partner", organisation_id=organisations["citizens-advice"], display_name="Priya Shah"
    )
    client = await harness.signed_in("ca-worker")
    page = await client.get("/partner")
    assert page.status_code == 200
    assert "Citizens Advice Somerset" in page.text and "Priya Shah" in page.text
    assert "Money and benefits casework" in page.text
    assert "Housing and recovery support" not in page.text  # another organisation's service
    assert 'src="/static/partner.js"' in page.text and 'aria-live="polite"' in page.text
    assert 'action="/logout"' in page.text and "referr" not in page.text.lower()  # the word is "warm transfer"
    script = await client.get("/static/partner.js")
    assert script.status_code == 200 and "/api/partner/v1" in script.text


async def test_signed_out_goes_to_sign_in_first(client):
    page = await client.get("/partner")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/partner"


async def test_a_listener_is_told_the_page_is_not_theirs(harness):
    await harness.add_user("sam", "listener")
    client = await harness.signed_in("sam")
    page = await client.get("/partner")
    assert page.status_code == 403 and "not for your account" in page.text
