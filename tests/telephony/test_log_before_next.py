"""A log before the next caller: with the line's default (support and abusive calls need their
log), a listener whose last call has no log is told so, with a 409 naming the call, when taking
the next caller, ringing someone back or starting a callback; recording the log ends wrap-up at
once; a silent call takes a short log; the wrap-up time still ends by itself."""

import pytest

from app.core.jobs import run_due_jobs
from app.core.settings import Settings
from tests.scenarios import answered, hang_up
from tests.telephony.conftest import callbacks, listener, simulator_for

LOG = {
    "contact_type": "support",
    "needs": [],
    "risk_level": "low",
    "consent_to_share": False,
    "title": "Lonely tonight",
    "summary": "Talked about the week",
    "outcome": "supported",
}
SILENT = {"contact_type": "silent", "risk_level": "none", "title": "Silent call", "outcome": "caller-ended"}


@pytest.fixture
async def line(make_harness):
    default = Settings.model_fields["log_before_next_contact_types"].default_factory()
    harness = await make_harness(log_before_next_contact_types=default)
    sim = simulator_for(harness)
    yield harness, sim
    await sim.close()


def test_support_and_abusive_calls_need_their_log_by_default():
    assert Settings.model_fields["log_before_next_contact_types"].default_factory() == ["support", "abusive"]


async def after_a_call(harness, sim):
    _, client = await listener(harness)
    caller, card = await answered(harness, sim, client)
    harness.clock.advance(minutes=8)
    await hang_up(sim, caller)
    await run_due_jobs(harness.runtime)  # the session ends with the call
    waiting = sim.caller("+447700900777")
    await waiting.arrive()
    await sim.deliver()
    return client, card, waiting


async def test_the_next_caller_waits_for_the_last_ones_log(line):
    harness, sim = line
    client, card, waiting = await after_a_call(harness, sim)
    assert (await client.get("/api/listener/presence")).json()["status"] == "wrap-up"
    refused = await client.post("/api/listener/calls/next")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "log_missing",
        "detail": f"record the log of your last call (caller {card['caller']['number']}) before taking another",
    }
    [row] = (await client.get("/api/listener/tonight")).json()  # where the page finds the log to open
    assert (row["session_id"], row["log_recorded"]) == (card["id"], False)
    still = await client.put("/api/listener/presence", json={"status": "available"})
    assert (still.status_code, still.json()["error"]) == (409, "log_missing")  # wrap-up is for the log
    assert (await client.put("/api/listener/presence", json={"status": "break"})).status_code == 200
    assert (await client.put("/api/listener/presence", json={"status": "available"})).status_code == 409
    assert (await client.put("/api/listener/presence", json={"status": "wrap-up"})).status_code == 200
    queue = (await client.get("/api/listener/queue")).json()
    assert queue["waiting"] == 1  # the caller was not claimed and waits for someone else

    assert (await client.post(f"/api/listener/sessions/{card['id']}/log", json=LOG)).status_code == 201
    assert (await client.get("/api/listener/presence")).json()["status"] == "available"  # not 2 minutes later
    assert (await client.post("/api/listener/calls/next")).status_code == 200


async def test_a_silent_call_takes_a_short_log(line):
    harness, sim = line
    client, card, waiting = await after_a_call(harness, sim)
    logged = await client.post(f"/api/listener/sessions/{card['id']}/log", json=SILENT)
    assert logged.status_code == 201, logged.text
    assert (await client.post("/api/listener/calls/next")).status_code == 200
    no_consent = await client.post(
        f"/api/listener/sessions/{card['id']}/log/revisions",
        json=LOG | {"consent_to_share": None, "correction_reason": "it was support"},
    )
    assert no_consent.status_code == 422  # a support call still asks the caller


async def test_the_wrap_up_time_ends_without_the_log_but_the_next_caller_still_waits_for_it(line):
    harness, sim = line
    client, card, waiting = await after_a_call(harness, sim)
    harness.clock.advance(seconds=harness.runtime.settings.wrap_up_seconds)
    await run_due_jobs(harness.runtime)
    assert (await client.get("/api/listener/presence")).json()["status"] == "available"
    assert (await client.post("/api/listener/calls/next")).json()["error"] == "log_missing"
    harness.clock.advance(hours=13)  # a log missing since the last shift does not hold up this one
    assert (await client.post("/api/listener/calls/next")).status_code == 200


async def test_ringing_back_or_starting_a_callback_waits_for_the_log_too(line):
    harness, sim = line
    client, card, waiting = await after_a_call(harness, sim)
    harness.clock.advance(seconds=harness.runtime.settings.max_wait_seconds + 1)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    assert waiting.state == "recording"  # nobody took them: a message instead
    await waiting.leave_message(seconds=10)
    await sim.deliver()
    [callback] = await callbacks(harness)
    assert (await client.post(f"/api/listener/callbacks/{callback.id}/claim")).status_code == 200
    for path in ("ring", "session"):
        refused = await client.post(f"/api/listener/callbacks/{callback.id}/{path}")
        assert (refused.status_code, refused.json()["error"]) == (409, "log_missing"), path
    assert (await client.post(f"/api/listener/sessions/{card['id']}/log", json=LOG)).status_code == 201
    assert (await client.post(f"/api/listener/callbacks/{callback.id}/ring")).status_code == 202
