"""The simulator as a real server process (``python -m telephony.simulator``), and the app's REST
client reaching it over HTTP through ``OPENLINE_TWILIO_API_BASE``."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from telephony.provider import ProviderRejected, add_participant, redirect_call, send_sms
from tests.conftest import LINE_CALLER_ID, PUBLIC_URL, TWILIO_TOKEN
from tests.servers import process_serving

ACCOUNT = "AC" + "1" * 32


@pytest.fixture(scope="module")
async def simulator_process() -> AsyncIterator[str]:
    env = {
        "OPENLINE_ENVIRONMENT": "development",
        "OPENLINE_TWILIO_ACCOUNT_SID": ACCOUNT,
        "OPENLINE_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "OPENLINE_PUBLIC_URL": PUBLIC_URL,
        "OPENLINE_LOG_LEVEL": "WARNING",
        "OPENLINE_TWILIO_CALLER_ID": LINE_CALLER_ID,
    }
    args = ["-m", "telephony.simulator", "--port", "{port}", "--no-callers", "--app-url", "http://127.0.0.1:9"]
    async with process_serving(args, env) as (base, process):
        yield base
        process.terminate()
        assert process.wait(timeout=10) == 0  # a clean shutdown


async def test_the_app_talks_to_the_simulator_over_http(make_harness, simulator_process):
    harness = await make_harness(twilio_api_base=simulator_process)
    runtime = harness.runtime
    participant = await add_participant(
        runtime,
        "call-CA" + "f" * 32,
        to="client:listener_1",
        label="listener",
        status_callback=PUBLIC_URL + "/telephony/voice/status",
        start_conference_on_enter=True,
        end_conference_on_exit=False,
    )
    assert participant.call_sid.startswith("CA") and participant.label == "listener"
    assert (await send_sms(runtime, to="+447700900123", body="We will call you back")).startswith("SM")
    with pytest.raises(ProviderRejected) as refused:
        await redirect_call(runtime, "CA" + "0" * 32, url=PUBLIC_URL + "/telephony/voice/voicemail")
    assert refused.value.call_gone
    async with httpx.AsyncClient() as client:
        state = (await client.get(simulator_process + "/_sim/state")).json()
    create, _sms, _redirect = state["rest_requests"][-3:]  # the process serves every test in this module
    assert create["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Conferences/call-CA{'f' * 32}/Participants.json"
    assert create["form"]["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert state["calls"][participant.call_sid]["label"] == "listener"


async def test_the_simulator_refuses_the_wrong_credentials(make_harness, simulator_process):
    harness = await make_harness(twilio_api_base=simulator_process, twilio_auth_token="another-token-0123456789")
    with pytest.raises(ProviderRejected) as refused:
        await send_sms(harness.runtime, to="+447700900123", body="hello")
    assert refused.value.status == 401


async def test_the_practice_headset_answers_a_ringing_leg_in_the_simulator_process(make_harness, simulator_process):
    from types import SimpleNamespace

    from app.core.errors import Conflict
    from telephony.headset import press_practice_headset

    harness = await make_harness(environment="development", telephony="simulated", twilio_api_base=simulator_process)
    listener = SimpleNamespace(headset_identity="listener_42")
    participant = await add_participant(
        harness.runtime,
        "call-CA" + "e" * 32,
        to="client:listener_42",
        label="listener",
        status_callback=PUBLIC_URL + "/telephony/voice/status",
        start_conference_on_enter=True,
        end_conference_on_exit=False,
    )
    # The practice simulator takes a moment (as a person would) before the line rings: bounded polling.
    for _ in range(100):
        try:
            await press_practice_headset(harness.runtime, user=listener, action="answer")
            break
        except Conflict:
            await asyncio.sleep(0.05)
    async with httpx.AsyncClient() as client:
        state = (await client.get(simulator_process + "/_sim/state")).json()
    leg = state["calls"][participant.call_sid]
    assert leg["status"] == "in-progress" and leg["conference"] == "call-CA" + "e" * 32
    muted = await press_practice_headset(harness.runtime, user=listener, action="mute")
    assert muted == {"action": "mute", "muted": True}
