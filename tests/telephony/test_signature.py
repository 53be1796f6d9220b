"""X-Twilio-Signature: the TWILIO.md test vector, forged and unsigned requests, and proxies."""

from urllib.parse import urlsplit

import httpx
import pytest
from starlette.requests import Request
from twilio.request_validator import RequestValidator

from app.core.settings import Settings
from telephony.signature import public_url_of
from tests.conftest import TWILIO_TOKEN
from tests.telephony.conftest import calls, deliveries, simulator_for

VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
VECTOR_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def request_seen_as(scheme: str, host: str, path: str, query: bytes) -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": scheme,
            "server": (host, 80),
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", host.encode())],
        }
    )


def settings_for(public_url: str) -> Settings:
    return Settings(_env_file=None, environment="development", public_url=public_url, twilio_auth_token="12345")


def test_the_twilio_test_vector():
    assert RequestValidator("12345").compute_signature(VECTOR_URL, VECTOR_PARAMS) == VECTOR_SIGNATURE


@pytest.mark.parametrize("public_url", ["https://mycompany.com", "https://mycompany.com/", "https://mycompany.com:443"])
def test_the_vector_verifies_against_the_public_url_not_the_url_the_app_sees(public_url):
    # Behind a TLS terminator the app sees plain http on an internal host and port.
    seen = request_seen_as("http", "internal-host:8000", "/myapp.php", b"foo=1&bar=2")
    url = public_url_of(settings_for(public_url), seen)
    assert url.startswith(public_url.rstrip("/")) and url.endswith("/myapp.php?foo=1&bar=2")
    assert RequestValidator("12345").validate(url, VECTOR_PARAMS, VECTOR_SIGNATURE)
    assert not RequestValidator("12345").validate(str(seen.url), VECTOR_PARAMS, VECTOR_SIGNATURE)


def test_the_raw_query_is_kept_as_sent():
    seen = request_seen_as("http", "internal", "/telephony/voice/status", b"b=2&a=%2Fx")
    assert (
        public_url_of(settings_for("https://line.example"), seen)
        == "https://line.example/telephony/voice/status?b=2&a=%2Fx"
    )


INCOMING = {
    "CallSid": "CA" + "a" * 32,
    "AccountSid": "AC" + "1" * 32,
    "From": "+447700900123",
    "To": "+441234000000",
    "CallStatus": "ringing",
    "Direction": "inbound",
    "ApiVersion": "2010-04-01",
}


@pytest.mark.parametrize("signature", [None, "", "forged", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="])
async def test_unsigned_and_forged_webhooks_are_refused_and_nothing_is_stored(harness, client, signature):
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    for path in (
        "/telephony/voice/incoming",
        "/telephony/voice/status",
        "/telephony/voice/wait",
        "/telephony/conference/events",
        "/telephony/voice/fallback",
        "/telephony/voice/voicemail",
    ):
        response = await client.post(path, data=INCOMING, headers=headers)
        assert response.status_code == 403, path
        assert response.json()["error"] == "forbidden_signature"
    assert await calls(harness) == [] and await deliveries(harness) == []


async def test_a_signature_for_other_fields_or_another_url_is_refused(harness, client):
    validator = RequestValidator(TWILIO_TOKEN)
    url = "https://openline.example.org/telephony/voice/incoming"
    tampered = {**INCOMING, "From": "+447700900999"}
    wrong_fields = await client.post(
        "/telephony/voice/incoming",
        data=tampered,
        headers={"X-Twilio-Signature": validator.compute_signature(url, INCOMING)},
    )
    wrong_url = await client.post(
        "/telephony/voice/incoming",
        data=INCOMING,
        headers={
            "X-Twilio-Signature": validator.compute_signature(
                "http://openline.example.org/telephony/voice/incoming", INCOMING
            )
        },
    )
    assert (wrong_fields.status_code, wrong_url.status_code) == (403, 403)
    assert await calls(harness) == []


@pytest.mark.parametrize(
    ("public_url", "twilio_calls"),
    [
        ("https://openline.example.org", "https://openline.example.org"),
        ("https://openline.example.org:443", "https://openline.example.org"),
        ("https://openline.example.org", "https://openline.example.org:443"),
    ],
)
async def test_webhooks_behind_a_proxy_verify_against_the_public_url(make_harness, public_url, twilio_calls):
    harness = await make_harness(public_url=public_url)
    # Twilio signs the URL it was given; the app itself is reached at http://internal:8000.
    sim = simulator_for(harness, public_url=twilio_calls, webhook_base="http://internal:8000")
    caller = sim.caller()
    assert "<Conference" in await caller.arrive()
    await sim.deliver()
    # The incoming call, the caller joining their conference and its wait URL: all verified.
    assert [(urlsplit(sent.url).path, sent.status) for sent in sim.sent] == [
        ("/telephony/voice/incoming", 200),
        ("/telephony/conference/events", 200),
        ("/telephony/voice/wait", 200),
    ]
    # Twilio sends no callback for the answer: the caller joining their room is what says so.
    assert [c.status for c in await calls(harness)] == ["in-progress"]
    await sim.close()


async def test_simulated_telephony_turns_the_check_off(make_harness):
    harness = await make_harness(environment="development", telephony="simulated")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app), base_url="http://dev") as client:
        response = await client.post("/telephony/voice/incoming", data=INCOMING)
    assert response.status_code == 200 and "<Conference" in response.text
