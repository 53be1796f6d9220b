"""Ringing a caller back: "Call back" on a claimed callback rings the caller from the line's number
into a conference with the listener, and the call runs as a session like any other; a ring-back
that does not connect frees the listener at once and leaves nothing on the caller's phone."""

from datetime import datetime

from app.core.jobs import run_due_jobs
from telephony.simulator import Outgoing
from tests.scenarios import take_call, voicemail_claimed
from tests.telephony.conftest import calls, listener, presence_of, sim  # noqa: F401 - the simulator fixture

NUMBER = "+447700900321"


async def ring(harness, client, callback_id):
    """Press "Call back"; the stored job places the call."""
    response = await client.post(f"/api/listener/callbacks/{callback_id}/ring")
    assert response.status_code == 202, response.text
    assert await run_due_jobs(harness.runtime) >= 1
    return response.json()


def ring_back_leg(sim, number=NUMBER):
    return next(c for c in sim.calls.values() if c.direction == "outbound-api" and c.to == number)


async def shown(client, callback_id):
    return next(c for c in (await client.get("/api/listener/callbacks")).json() if c["id"] == callback_id)


async def test_a_listener_rings_a_caller_back_into_a_session_with_a_warm_transfer(harness, sim):
    from tests.conftest import load_demo_directory
    from tests.scenarios import CRISIS_LOG

    await load_demo_directory(harness)
    user, client, callback_id = await voicemail_claimed(harness, sim)
    await ring(harness, client, callback_id)
    [placed] = [r for r in sim.rest_requests if r["path"].endswith("/Calls.json")]
    assert placed["form"]["To"] == NUMBER and placed["form"]["From"] == harness.runtime.settings.twilio_caller_id
    assert placed["form"]["MachineDetection"] == "Enable"
    assert "?call=" in placed["form"]["Url"] and "leg=ringback" in placed["form"]["StatusCallback"]

    await sim.deliver()  # the caller answers; the listener is rung into the same conference
    leg = ring_back_leg(sim)
    assert "the support line, returning your call" in leg.heard[0]
    assert "message" not in " ".join(leg.heard)  # never the reason they called
    room = sim.conferences[leg.conference]
    labels = {p.label for p in room.participants.values()}
    assert "listener" in labels and room.started
    call = next(c for c in await calls(harness) if c.direction == "outbound-api")
    assert call.call_sid == leg.sid and call.queue_state == "connected" and call.listener_id == user.id

    card = (await client.get("/api/listener/sessions/current")).json()
    assert card["call_id"] == call.id and card["caller"]["number"].endswith("321")
    assert (await presence_of(harness, user.id)).status == "on-call"
    assert (await client.post(f"/api/listener/sessions/{card['id']}/log", json=CRISIS_LOG)).status_code == 201
    safe_space = next(
        s["service_id"]
        for s in (await client.get(f"/api/listener/sessions/{card['id']}/suggestions")).json()
        if s["live_transfer_possible"]
    )
    made = await client.post(
        f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
    )
    assert made.status_code == 201, made.text
    await sim.deliver()
    assert any(p.label == f"partner-{made.json()['ticket_id']}" for p in room.participants.values())

    sim.end_call(leg, "completed")  # the caller hangs up
    await sim.deliver()
    call = next(c for c in await calls(harness) if c.direction == "outbound-api")
    assert call.queue_state == "ended" and not call.abandoned
    presence = await presence_of(harness, user.id)
    assert presence.current_call_id is None and presence.status == "wrap-up"
    assert (await client.get("/api/listener/sessions/current")).json() is None
    [attempt] = (await shown(client, callback_id))["attempts"]
    assert attempt["result"] == "answered" and attempt["ended_at"] is not None


async def test_no_answer_frees_the_listener_and_the_callback_stays_theirs(harness, sim):
    user, client, callback_id = await voicemail_claimed(harness, sim)
    sim.unanswered.add(NUMBER)
    await ring(harness, client, callback_id)
    await sim.deliver()
    leg = ring_back_leg(sim)
    assert leg.status == "no-answer" and leg.heard == []
    assert not [r for r in sim.rest_requests if "/Participants" in r["path"]]  # the listener was never rung
    assert (await presence_of(harness, user.id)).current_call_id is None
    callback = await shown(client, callback_id)
    assert callback["status"] == "claimed" and callback["claimed_by"] == user.id
    [attempt] = callback["attempts"]
    assert attempt["result"] == "no-answer" and datetime.fromisoformat(attempt["ended_at"]) == harness.clock.now()
    # Free for the next caller, or to try again.
    sim.unanswered.clear()
    await ring(harness, client, callback_id)
    assert [a["result"] for a in (await shown(client, callback_id))["attempts"]] == [None, "no-answer"]


async def test_a_busy_line_is_shown_and_nobody_is_left_on_the_line(harness, sim):
    user, client, callback_id = await voicemail_claimed(harness, sim)
    await ring(harness, client, callback_id)
    leg = ring_back_leg(sim)
    sim.outbox.clear()  # Twilio reports the line busy instead of it being answered
    leg.status = "busy"
    await sim.post(Outgoing(leg.status_callback, sim.call_params(leg, SequenceNumber="0"), leg.sid))
    assert (await presence_of(harness, user.id)).current_call_id is None
    [attempt] = (await shown(client, callback_id))["attempts"]
    assert attempt["result"] == "busy"
    [call] = [c for c in await calls(harness) if c.direction == "outbound-api"]
    assert call.queue_state == "ended" and call.call_sid == leg.sid and not call.abandoned


async def test_an_answering_machine_is_hung_up_on_in_silence(harness, sim):
    user, client, callback_id = await voicemail_claimed(harness, sim)
    await ring(harness, client, callback_id)
    leg = ring_back_leg(sim)
    for item in sim.outbox:
        if item.call_sid == leg.sid and "/voice/ringback" in item.url:
            item.params["AnsweredBy"] = "machine_start"  # what machine detection reports
    await sim.deliver()
    assert leg.ended and leg.heard == []  # nothing left on their voicemail
    assert not [r for r in sim.rest_requests if "/Participants" in r["path"]]
    assert (await presence_of(harness, user.id)).current_call_id is None
    [attempt] = (await shown(client, callback_id))["attempts"]
    assert attempt["result"] == "voicemail"


async def test_a_caller_who_hangs_up_before_the_listener_joins(harness, sim):
    user, client, callback_id = await voicemail_claimed(harness, sim)
    sim.slow_to_answer.add(f"client:{user.headset_identity}")
    await ring(harness, client, callback_id)
    await sim.deliver()
    leg = ring_back_leg(sim)
    assert leg.conference and not leg.ended  # on hold, waiting for the listener
    sim.end_call(leg, "completed")
    await sim.deliver()
    listener_leg = next(c for c in sim.calls.values() if c.to == f"client:{user.headset_identity}")
    assert listener_leg.ended  # their headset stops ringing
    assert (await presence_of(harness, user.id)).current_call_id is None
    [attempt] = (await shown(client, callback_id))["attempts"]
    assert attempt["result"] == "hung-up"


async def test_ringing_back_is_refused_without_the_claim_on_a_call_or_with_no_number(harness, sim):
    sam, sam_client, callback_id = await voicemail_claimed(harness, sim)
    _, alex = await listener(harness, "alex")
    assert (await alex.post(f"/api/listener/callbacks/{callback_id}/ring")).status_code == 404
    assert (await sam_client.post("/api/listener/callbacks/999/ring")).status_code == 404

    caller = sim.caller("+447700900777")  # Sam takes a caller from the queue first
    await caller.arrive()
    await sim.deliver()
    await take_call(sam_client)
    await sim.deliver()
    busy = await sam_client.post(f"/api/listener/callbacks/{callback_id}/ring")
    assert busy.status_code == 409 and busy.json()["error"] == "already_on_call"
    assert [a for a in (await shown(sam_client, callback_id))["attempts"]] == []

    _, jo, withheld_id = await voicemail_claimed(harness, sim, number="anonymous", username="jo")
    refused = await jo.post(f"/api/listener/callbacks/{withheld_id}/ring")
    assert refused.status_code == 409 and refused.json()["error"] == "number_withheld"
    assert "withheld their number" in refused.json()["detail"]
    assert not [r for r in sim.rest_requests if r["path"].endswith("/Calls.json")]
    assert not [c for c in await calls(harness) if c.direction == "outbound-api"]


async def test_a_claimed_voicemail_plays_through_openline_and_every_play_is_audited(harness, sim):
    from app.core.audit import list_audit
    from app.core.db import session_scope

    sam, client, callback_id = await voicemail_claimed(harness, sim)
    listed = await client.get("/api/listener/callbacks")
    assert "api.twilio.com" not in listed.text and "Recordings" not in listed.text
    path = listed.json()[0]["recording"]
    assert path == f"/api/listener/callbacks/{callback_id}/recording"
    for _ in range(2):
        played = await client.get(path)
        assert played.status_code == 200 and played.headers["content-type"] == "audio/mpeg"
        assert played.headers["cache-control"] == "no-store" and played.content[:2] == b"\xff\xfb"
    fetched = [r for r in sim.rest_requests if r["path"].endswith(".mp3")]
    assert len(fetched) == 2 and fetched[0]["method"] == "GET"

    _, alex = await listener(harness, "alex")
    assert (await alex.get(path)).status_code == 404
    await harness.add_user("pat", "supervisor")
    supervisor = await harness.signed_in("pat")
    assert (await supervisor.get(path)).status_code == 200
    async with session_scope(harness.runtime) as session:
        plays = [
            e for e in await list_audit(session, "callback_request", callback_id) if e.action == "voicemail.played"
        ]
    assert [e.actor for e in plays] == ["user:sam", "user:sam", "user:pat"]
    assert all("twilio" not in str(e.detail) for e in plays)


async def test_a_ring_back_the_line_never_reports_on_frees_the_listener(harness, sim):
    from telephony.ringback import RING_BACK_TIMEOUT_SECONDS

    user, client, callback_id = await voicemail_claimed(harness, sim)
    await ring(harness, client, callback_id)
    sim.outbox.clear()  # every callback about the ring-back is lost
    harness.clock.advance(seconds=RING_BACK_TIMEOUT_SECONDS)
    assert await run_due_jobs(harness.runtime) >= 1
    assert (await presence_of(harness, user.id)).current_call_id is None
    [attempt] = (await shown(client, callback_id))["attempts"]
    assert attempt["result"] == "no-answer"


async def test_a_ring_back_survives_callbacks_twice_and_out_of_order(harness, sim):
    user, client, callback_id = await voicemail_claimed(harness, sim)
    await ring(harness, client, callback_id)
    await sim.deliver(duplicate=True, shuffle=True)
    assert (await client.get("/api/listener/sessions/current")).status_code == 200
    sim.end_call(ring_back_leg(sim), "completed")
    await sim.deliver(duplicate=True, shuffle=True)
    [call] = [c for c in await calls(harness) if c.direction == "outbound-api"]
    assert call.queue_state == "ended" and call.status == "completed"
    assert (await presence_of(harness, user.id)).current_call_id is None
    assert (await client.get("/api/listener/sessions/current")).json() is None
    [attempt] = (await shown(client, callback_id))["attempts"]
    assert attempt["result"] == "answered"
