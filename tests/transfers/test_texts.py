"""The optional text to a caller who agreed to texts, sent through (simulated) Twilio on acceptance."""

from datetime import UTC, datetime

from app.core.jobs import run_due_jobs
from tests.conftest import load_demo_directory
from tests.scenarios import GOOD, logged_session, partner, service_id, transfer
from tests.scenarios import TRANSFER_NUMBER as NUMBER
from tests.telephony.conftest import sim  # noqa: F401 - the simulator fixture
from transfers.tickets.texts import compose_text


def test_the_text_names_who_will_call_and_by_when_in_local_time():
    summer = compose_text("Citizens Advice Somerset", datetime(2026, 7, 1, 16, 0, tzinfo=UTC), "Europe/London")
    assert "Citizens Advice Somerset will contact you by Wednesday 1 July, 5:00pm" in summer
    assert "mental" not in summer.lower()  # discreet: others may see the phone


async def test_a_caller_who_agreed_to_texts_is_told_once_the_partner_accepts(harness, sim):
    organisations = await load_demo_directory(harness)
    worker = await partner(harness, organisations)
    agreed, sam = await logged_session(harness, "sam", log=GOOD | {"sms_consent": True})
    declined, alex = await logged_session(harness, "alex")
    texted = (await transfer(sam, agreed, await service_id(harness, "ca-money"))).json()["ticket_id"]
    quiet = (await transfer(alex, declined, await service_id(harness, "ca-money"))).json()["ticket_id"]
    await run_due_jobs(harness.runtime)
    assert sim.messages == []  # nothing before a partner has accepted
    for ticket_id in (texted, quiet):
        await worker.post(f"/api/partner/v1/tickets/{ticket_id}/accept")
    await run_due_jobs(harness.runtime)
    await run_due_jobs(harness.runtime)
    assert [
        (m["to"], "Citizens Advice Somerset will contact you by Monday 30 November, 5:00pm" in m["body"])
        for m in sim.messages
    ] == [(NUMBER, True)]
