"""Live warm transfers through the simulated Twilio: the caller held, the partner's line dialled
into the conference, the listener briefs and leaves, the handover confirmed; or the partner does
not answer and the caller is back with the listener, the ticket waiting as a callback."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.db import session_scope
from app.core.jobs import run_due_jobs
from app.helpline.models import SupportSession
from tests.scenarios import conference_of, on_the_line
from tests.telephony.conftest import listener, sim  # noqa: F401 - the simulator fixture
from transfers.directory.models import Service

SAFE_SPACE_LINE = "+441823000101"


async def test_a_live_transfer_ends_in_a_confirmed_handover(harness, sim):
    organisations, client, caller, card, safe_space = await on_the_line(harness, sim)
    suggestions = (await client.get(f"/api/listener/sessions/{card['id']}/suggestions")).json()
    assert suggestions[0]["service_id"] == safe_space and suggestions[0]["live_transfer_possible"]

    made = await client.post(
        f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
    )
    assert made.status_code == 201, made.text
    ticket = made.json()
    assert (ticket["mode"], ticket["live_state"], ticket["urgent"]) == ("live", "ringing", True)
    await sim.deliver()
    room = conference_of(sim, caller)
    assert room.participants[caller.call.sid].hold is True  # the caller waits on hold while the partner is briefed
    partner_leg = next(p for p in room.participants.values() if p.label == f"partner-{ticket['ticket_id']}")
    assert sim.calls[partner_leg.call_sid].to == SAFE_SPACE_LINE
    joined = (await client.get(f"/api/helpline/tickets/{ticket['ticket_id']}")).json()
    assert joined["live_state"] == "joined" and joined["status"] == "requested"

    handed = await client.post(f"/api/helpline/tickets/{ticket['ticket_id']}/handover")
    assert handed.status_code == 200
    await sim.deliver()
    assert room.participants[caller.call.sid].hold is False
    assert "listener" not in {p.label for p in room.participants.values()}
    assert caller.state == "connected"  # still talking, now to the safe space

    done = (await client.get(f"/api/helpline/tickets/{ticket['ticket_id']}")).json()
    assert (done["status"], done["mode"], done["live_state"], done["handover_confirmed"]) == (
        "in-progress",
        "live",
        "handed-over",
        True,
    )
    assert [e["action"] for e in done["events"]] == ["create", "accept", "confirm_contact"]
    async with session_scope(harness.runtime) as session:
        support = await session.get(SupportSession, card["id"])
    assert support.ended_at is not None  # the listener's session is over; the caller's call goes on
    assert (await client.get("/api/listener/presence")).json()["status"] == "wrap-up"
    harness.clock.advance(minutes=1)  # the listener left, but the partner is with the caller: no rescue
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    assert caller.state == "connected" and not any("dropped" in line for line in caller.heard)


async def test_a_partner_line_that_rings_out_leaves_the_caller_with_the_listener_and_a_callback(harness, sim):
    organisations, client, caller, card, safe_space = await on_the_line(harness, sim)
    sim.slow_to_answer.add(SAFE_SPACE_LINE)  # it rings, and Twilio has told us nothing yet
    ticket = (
        await client.post(
            f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
        )
    ).json()
    await sim.deliver()
    room = conference_of(sim, caller)
    assert room.participants[caller.call.sid].hold is True
    harness.clock.advance(seconds=harness.runtime.settings.live_transfer_ring_seconds - 1)
    await run_due_jobs(harness.runtime)
    assert (await client.get(f"/api/helpline/tickets/{ticket['ticket_id']}")).json()["live_state"] == "ringing"
    harness.clock.advance(seconds=1)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    assert room.participants[caller.call.sid].hold is False  # back with the listener
    assert "listener" in {p.label for p in room.participants.values()} and caller.state == "connected"
    after = (await client.get(f"/api/helpline/tickets/{ticket['ticket_id']}")).json()
    assert (after["status"], after["mode"], after["live_state"]) == ("requested", "queue", "no-answer")
    await harness.add_user("mind-worker", "partner", organisation_id=organisations["mind-in-somerset"])
    worker = await harness.signed_in("mind-worker")
    queue = (await worker.get(f"/api/partner/v1/services/{safe_space}/queue")).json()["tickets"]
    assert [t["id"] for t in queue] == [ticket["ticket_id"]]
    assert (await client.post(f"/api/helpline/tickets/{ticket['ticket_id']}/handover")).status_code == 409


@pytest.mark.parametrize(("line", "state"), [("unanswered", "no-answer"), ("busy", "busy"), ("failing", "failed")])
async def test_a_partner_line_that_is_busy_fails_or_goes_unanswered_gives_the_caller_back_at_once(
    harness, sim, line, state
):
    """Twilio says the partner's line was busy, failed or not answered: the caller is not kept on
    hold for the rest of the ring time, and the ticket waits in the queue as a callback."""
    organisations, client, caller, card, safe_space = await on_the_line(harness, sim)
    getattr(sim, line).add(SAFE_SPACE_LINE)
    ticket = (
        await client.post(
            f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
        )
    ).json()
    await sim.deliver()  # no clock advanced, no job run: the leg's own callbacks did it
    room = conference_of(sim, caller)
    assert room.participants[caller.call.sid].hold is False
    assert "listener" in {p.label for p in room.participants.values()} and caller.state == "connected"
    after = (await client.get(f"/api/helpline/tickets/{ticket['ticket_id']}")).json()
    assert (after["status"], after["mode"], after["live_state"]) == ("requested", "queue", state)
    hold_updates = [r for r in sim.rest_requests if r["method"] == "POST" and "Hold" in r["form"]]
    assert [r["form"]["Hold"] for r in hold_updates] == ["true", "false"]  # once on, once off
    assert all(f"/Conferences/{room.sid}/" in r["path"] for r in hold_updates)  # by SID, never by name


async def test_no_live_transfer_to_a_closed_line_or_a_service_without_one(harness, sim):
    organisations, client, caller, card, safe_space = await on_the_line(harness, sim)
    async with session_scope(harness.runtime) as session:
        no_line = await session.scalar(sa.select(Service.id).where(Service.slug == "ca-money"))
    response = await client.post(
        f"/api/listener/sessions/{card['id']}/transfers",
        json={"service_id": no_line, "mode": "live", "contact_number": "+447700900111"},
    )
    assert response.status_code == 422 and "no live line" in response.json()["detail"][0]["message"]
    harness.clock.advance(hours=5)  # 01:00: the safe space closed at midnight
    response = await client.post(
        f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
    )
    assert response.status_code == 422 and "closed now" in response.json()["detail"][0]["message"]
    assert not [c for c in sim.calls.values() if c.to in (SAFE_SPACE_LINE, "+441823000201")]  # nothing dialled


async def test_a_partner_who_drops_after_the_handover_does_not_leave_the_caller_in_silence(harness, sim):
    from telephony.lifecycle import CALLER_ALONE_GRACE_SECONDS

    organisations, client, caller, card, safe_space = await on_the_line(harness, sim)
    ticket = (
        await client.post(
            f"/api/listener/sessions/{card['id']}/transfers", json={"service_id": safe_space, "mode": "live"}
        )
    ).json()
    await sim.deliver()
    assert (await client.post(f"/api/helpline/tickets/{ticket['ticket_id']}/handover")).status_code == 200
    await sim.deliver()
    room = conference_of(sim, caller)
    partner_leg = next(p for p in room.participants.values() if p.label == f"partner-{ticket['ticket_id']}")
    sim.end_call(sim.calls[partner_leg.call_sid], "completed")  # the partner's line drops
    await sim.deliver()
    harness.clock.advance(seconds=CALLER_ALONE_GRACE_SECONDS)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    assert caller.state == "recording" and "dropped" in caller.heard[-1]  # offered a message, then a callback
