"""Webhook intake: each delivery stored once, duplicates answered from the store, stale and
orphan callbacks recorded without harm, bad input refused with a 4xx, caller numbers kept out."""

import json

import pytest

from tests.telephony.conftest import calls, deliveries, signed_post

NUMBER = "+447700900123"


def incoming(sid: str = "CA" + "b" * 32, **extra: str) -> dict[str, str]:
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": NUMBER,
        "Caller": NUMBER,
        "To": "+441234000000",
        "Called": "+441234000000",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        "CallerName": "Jo Bloggs",
        "FromCity": "TAUNTON",
        "ForwardedFrom": "",
        "CallToken": "secret-ish",
        **extra,
    }


def status(sid: str, call_status: str, sequence: int | str | None, **extra: str) -> dict[str, str]:
    fields = incoming(sid, CallStatus=call_status, CallbackSource="call-progress-events", **extra)
    if sequence is not None:
        fields["SequenceNumber"] = str(sequence)
    return fields


async def test_a_call_is_recorded_once_with_the_number_encrypted(harness, client, sim, published):
    first = await signed_post(client, sim, "/telephony/voice/incoming", incoming())
    again = await signed_post(client, sim, "/telephony/voice/incoming", incoming())
    assert first.status_code == again.status_code == 200
    assert first.headers["content-type"].startswith("application/xml")
    assert again.text == first.text and "call-CA" + "b" * 32 in first.text
    [call] = await calls(harness)
    assert call.direction == "inbound" and call.status == "ringing" and call.queue_state == "waiting"
    assert call.waiting_since == harness.clock.now() and call.conference_name == "call-CA" + "b" * 32
    assert NUMBER not in (call.from_encrypted or "") and harness.runtime.crypto.decrypt(call.from_encrypted) == NUMBER
    assert call.from_hash == harness.runtime.crypto.caller_hash(NUMBER) and call.from_masked == "+44 ••• ••123"
    assert [name for name, _ in published] == ["call.waiting"]
    [delivery] = await deliveries(harness)
    assert delivery.endpoint == "incoming" and delivery.outcome == "applied"


async def test_caller_numbers_never_reach_the_delivery_log(harness, client, sim):
    await signed_post(client, sim, "/telephony/voice/incoming", incoming())
    await signed_post(client, sim, "/telephony/voice/status", status("CA" + "b" * 32, "in-progress", 1))
    stored = json.dumps([d.fields for d in await deliveries(harness)])
    for secret in ("7700900123", "1234000000", "Jo Bloggs", "TAUNTON", "secret-ish"):
        assert secret not in stored
    assert '"CallStatus": "in-progress"' in stored


async def test_a_withheld_number_is_recorded_as_withheld(harness, client, sim):
    await signed_post(client, sim, "/telephony/voice/incoming", incoming(From="anonymous", Caller="anonymous"))
    [call] = await calls(harness)
    assert call.from_withheld and call.from_hash is None and call.from_encrypted is None
    assert call.from_masked == "withheld"


async def test_the_idempotency_token_makes_a_retry_change_nothing(harness, client, sim):
    await signed_post(client, sim, "/telephony/voice/incoming", incoming())
    token = {"I-Twilio-Idempotency-Token": "retry-1"}
    for _ in range(3):
        response = await signed_post(
            client, sim, "/telephony/voice/status", status("CA" + "b" * 32, "completed", 2), **token
        )
        assert response.status_code == 200
    assert len(await deliveries(harness)) == 2


async def test_an_older_status_cannot_move_the_call_back(harness, client, sim):
    sid = "CA" + "b" * 32
    await signed_post(client, sim, "/telephony/voice/incoming", incoming(sid))
    await signed_post(client, sim, "/telephony/voice/status", status(sid, "completed", 2))
    await signed_post(client, sim, "/telephony/voice/status", status(sid, "ringing", 0))
    await signed_post(client, sim, "/telephony/voice/status", status(sid, "in-progress", None))
    [call] = await calls(harness)
    assert call.status == "completed" and call.status_sequence == 2 and call.queue_state == "ended"
    outcomes = [(d.event, d.outcome) for d in await deliveries(harness) if d.endpoint == "status"]
    assert outcomes == [("completed", "applied"), ("ringing", "stale"), ("in-progress", "stale")]


async def test_callbacks_for_a_call_never_seen_are_recorded_as_orphans(harness, client, sim):
    unknown = "CA" + "c" * 32
    status_reply = await signed_post(client, sim, "/telephony/voice/status", status(unknown, "completed", 3))
    conference_reply = await signed_post(
        client,
        sim,
        "/telephony/conference/events",
        {
            "ConferenceSid": "CF" + "c" * 32,
            "FriendlyName": "call-" + unknown,
            "StatusCallbackEvent": "conference-end",
            "SequenceNumber": "4",
            "AccountSid": "AC" + "1" * 32,
        },
    )
    assert status_reply.status_code == conference_reply.status_code == 200
    assert await calls(harness) == []
    assert [(d.endpoint, d.outcome) for d in await deliveries(harness)] == [
        ("status", "orphan"),
        ("conference", "orphan"),
    ]


@pytest.mark.parametrize(
    ("path", "fields", "field"),
    [
        ("/telephony/voice/incoming", {"CallStatus": "ringing", "From": NUMBER}, "CallSid"),
        ("/telephony/voice/status", {"CallSid": "", "CallStatus": "completed"}, "CallSid"),
        ("/telephony/voice/incoming", {"CallSid": "not a sid!", "CallStatus": "ringing"}, "CallSid"),
        ("/telephony/voice/incoming", {"CallSid": "CA" + "d" * 32, "CallStatus": "exploded"}, "CallStatus"),
        ("/telephony/voice/status", {"CallSid": "CA" + "d" * 32}, "CallStatus"),
        (
            "/telephony/voice/status",
            {"CallSid": "CA" + "d" * 32, "CallStatus": "completed", "SequenceNumber": "two"},
            "SequenceNumber",
        ),
        (
            "/telephony/voice/status",
            {"CallSid": "CA" + "d" * 32, "CallStatus": "completed", "SequenceNumber": "-1"},
            "SequenceNumber",
        ),
        (
            "/telephony/voice/status",
            {"CallSid": "CA" + "d" * 32, "CallStatus": "completed", "SequenceNumber": "9" * 40},
            "SequenceNumber",
        ),
        ("/telephony/conference/events", {"FriendlyName": "call-x"}, "StatusCallbackEvent"),
        (
            "/telephony/conference/events",
            {"StatusCallbackEvent": "participant-join", "FriendlyName": "call-x"},
            "CallSid",
        ),
    ],
)
async def test_malformed_webhooks_get_a_4xx_and_store_nothing(harness, client, sim, path, fields, field):
    response = await signed_post(client, sim, path, fields)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid" and field in [item["field"] for item in body["detail"]]
    assert await calls(harness) == [] and await deliveries(harness) == []


async def test_a_listener_leg_query_that_is_not_a_number_is_refused(harness, client, sim):
    path = "/telephony/voice/status?leg=listener&call=abc&claim=1"
    response = await signed_post(client, sim, path, status("CA" + "d" * 32, "completed", 1))
    assert response.status_code == 422 and await deliveries(harness) == []


async def test_a_huge_body_is_refused(harness, client, sim):
    big = {"CallSid": "CA" + "e" * 32, "CallStatus": "ringing", "Padding": "x" * (1024 * 1024)}
    response = await signed_post(client, sim, "/telephony/voice/incoming", big)
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"
    assert await calls(harness) == []


async def test_a_body_that_is_not_a_form_is_refused(harness, client):
    response = await client.post(
        "/telephony/voice/incoming", json={"CallSid": "CA" + "e" * 32}, headers={"X-Twilio-Signature": "x"}
    )
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"


async def test_the_line_closed_goes_straight_to_voicemail(make_harness):
    harness = await make_harness(line_open=False)
    from tests.telephony.conftest import simulator_for

    sim = simulator_for(harness)
    async with harness.client() as client:
        response = await signed_post(client, sim, "/telephony/voice/incoming", incoming())
    assert "<Record" in response.text and "<Conference" not in response.text and "999" in response.text
    [call] = await calls(harness)
    assert call.queue_state == "voicemail" and call.wait_seconds == 0
    await sim.close()


async def test_the_fallback_answers_and_queues_the_caller(harness, client, sim):
    response = await signed_post(
        client, sim, "/telephony/voice/fallback", incoming(ErrorCode="11200", ErrorUrl="https://openline.example.org/x")
    )
    assert response.status_code == 200 and "technical trouble" in response.text and "<Conference" in response.text
    [call] = await calls(harness)
    assert call.queue_state == "waiting"


async def test_the_fallback_still_holds_the_caller_when_the_database_fails(harness, client, sim, monkeypatch):
    import telephony.voice

    async def broken(*_args, **_kwargs):
        raise OSError("database unreachable")

    monkeypatch.setattr(telephony.voice, "receive_incoming_call", broken)
    response = await signed_post(client, sim, "/telephony/voice/fallback", incoming(ErrorCode="11200"))
    assert response.status_code == 200
    assert "technical trouble" in response.text and "call-CA" + "b" * 32 in response.text
