"""A crisis line dialled into the live call as a warm transfer: the caller stays with the listener
until the crisis worker has joined and been briefed, then the listener hands over (or stays on);
a line that is busy, fails or does not answer leaves the caller with the listener and alerts the
supervisors. Every step is audited and written on the safeguarding record."""

import pytest
import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.core.jobs import run_due_jobs
from app.core.settings import Settings
from tests.scenarios import answered
from tests.telephony.conftest import listener, simulator_for

CRISIS_TEAM = "+441823000999"
NHS_111 = "+441823000111"
LINES = [
    {"name": "Somerset crisis team", "number": CRISIS_TEAM},
    {"name": "NHS 111 (mental health)", "number": NHS_111},
]


@pytest.fixture
async def harness(make_harness):
    return await make_harness(crisis_lines=LINES)


@pytest.fixture
async def sim(harness):
    simulator = simulator_for(harness)
    yield simulator
    await simulator.close()


async def on_a_call(harness, sim):
    await harness.add_user("jo", "supervisor", display_name="Jo")
    _, sam = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, sam)
    return caller, card, sam, await harness.signed_in("jo")


def legs(sim, caller):
    room = next(r for r in sim.conferences.values() if caller.call.sid in r.participants)
    return room, {p.label or "caller": p for p in room.participants.values()}


async def trail(harness):
    async with session_scope(harness.runtime) as session:
        return [
            (a.actor, a.action)
            for a in (
                await session.scalars(
                    sa.select(AuditEvent)
                    .where(AuditEvent.subject_type == "safeguarding_record")
                    .order_by(AuditEvent.id)
                )
            ).all()
        ]


def test_crisis_lines_are_validated_and_none_by_default():
    assert Settings(_env_file=None, environment="development").crisis_lines == []
    with pytest.raises(ValueError, match="name"):
        Settings(_env_file=None, environment="development", crisis_lines=[{"name": "", "number": CRISIS_TEAM}])
    with pytest.raises(ValueError, match="number"):
        Settings(_env_file=None, environment="development", crisis_lines=[{"name": "Crisis", "number": "01823 000999"}])


async def test_the_crisis_worker_joins_with_the_caller_still_talking_to_the_listener_then_takes_over(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    lines = (await sam.get("/api/helpline/crisis-lines")).json()
    assert [line["name"] for line in lines] == ["Somerset crisis team", "NHS 111 (mental health)"]
    flagged = (await sam.post("/api/listener/calls/current/immediate-risk")).json()

    dialled = await sam.post("/api/listener/calls/current/crisis-line", json={"line_id": 1})
    assert dialled.status_code == 201, dialled.text
    assert (dialled.json()["id"], dialled.json()["crisis_state"]) == (flagged["id"], "ringing")
    assert (await sam.post("/api/listener/calls/current/crisis-line", json={"line_id": 2})).status_code == 409
    await sim.deliver()
    room, on_line = legs(sim, caller)
    crisis = on_line[f"crisis-{flagged['id']}"]
    assert sim.calls[crisis.call_sid].to == CRISIS_TEAM
    listener_leg = on_line["listener"].call_sid
    # Not on hold music: the caller still hears the listener while the crisis worker is briefed.
    assert sim.can_hear(caller.call.sid, listener_leg) and sim.can_hear(crisis.call_sid, listener_leg)

    record = (await jo.get(f"/api/helpline/safeguarding/{flagged['id']}")).json()
    assert (record["crisis_line"], record["crisis_state"], record["crisis_dialled_by"]) == (
        "Somerset crisis team",
        "joined",
        "Sam",
    )
    assert record["crisis_joined_at"] and [a["who"] for a in record["alerted"]] == [
        "supervisors on shift",
        "Somerset crisis team",
    ]

    handed = await sam.post(f"/api/helpline/safeguarding/{flagged['id']}/crisis-line/handover", json={})
    assert handed.status_code == 200 and handed.json()["crisis_state"] == "handed-over"
    await sim.deliver()
    room, on_line = legs(sim, caller)
    assert "listener" not in on_line and sim.can_hear(caller.call.sid, crisis.call_sid)
    assert caller.state == "connected"
    assert (await sam.get("/api/listener/presence")).json()["status"] == "wrap-up"
    harness.clock.advance(minutes=1)  # the crisis worker is with the caller: no caller-left-alone rescue
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    assert caller.state == "connected" and not any("dropped" in line for line in caller.heard)
    assert await trail(harness) == [
        ("user:sam", "flag_immediate_risk"),
        ("user:sam", "dial_crisis_line"),
        ("telephony", "crisis_line_joined"),
        ("user:jo", "read_safeguarding_record"),
        ("user:sam", "hand_over_to_crisis_line"),
    ]  # a supervisor's read is audited
    assert not any(r for r in sim.rest_requests if "Hold" in r["form"] and r["form"]["Hold"] == "true")


async def test_a_supervisor_dials_from_the_board_and_the_listener_may_hold_the_caller_and_stay_on(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    dialled = await jo.post(
        f"/api/supervisor/calls/{card['call_id']}/crisis-line", json={"line_id": 2, "hold_caller": True}
    )
    assert dialled.status_code == 201, dialled.text
    record = dialled.json()
    assert record["crisis_dialled_by"] == "Jo"  # flagged by the supervisor dialling
    await sim.deliver()
    room, on_line = legs(sim, caller)
    assert on_line["caller"].hold is True  # the listener asked to brief with the caller held
    assert sim.calls[on_line[f"crisis-{record['id']}"].call_sid].to == NHS_111
    stayed = await sam.post(f"/api/helpline/safeguarding/{record['id']}/crisis-line/handover", json={"stay": True})
    assert stayed.status_code == 200
    await sim.deliver()
    room, on_line = legs(sim, caller)
    assert on_line["caller"].hold is False and "listener" in on_line
    assert sim.can_hear(caller.call.sid, on_line[f"crisis-{record['id']}"].call_sid)
    assert sim.can_hear(caller.call.sid, on_line["listener"].call_sid)
    board = (await jo.get("/api/supervisor/board")).json()
    assert board["listeners"][0]["call"]["immediate_risk_id"] == record["id"]
    assert ("user:jo", "dial_crisis_line") in await trail(harness)


@pytest.mark.parametrize(
    ("line", "state", "words"),
    [("unanswered", "no-answer", "did not answer"), ("busy", "busy", "was busy"), ("failing", "failed", "could not")],
)
async def test_a_crisis_line_that_is_busy_fails_or_goes_unanswered_leaves_the_caller_with_the_listener(
    harness, sim, line, state, words
):
    caller, card, sam, jo = await on_a_call(harness, sim)
    getattr(sim, line).add(CRISIS_TEAM)
    record = (
        await sam.post("/api/listener/calls/current/crisis-line", json={"line_id": 1, "hold_caller": True})
    ).json()
    await sim.deliver()  # the leg's own callbacks tell us; no timer needed
    room, on_line = legs(sim, caller)
    assert on_line["caller"].hold is False and sim.can_hear(caller.call.sid, on_line["listener"].call_sid)
    after = (await sam.get(f"/api/helpline/safeguarding/{record['id']}")).json()
    assert (after["crisis_state"], bool(after["crisis_ended_at"])) == (state, True)
    alert = next(
        a for a in (await jo.get("/api/supervisor/board")).json()["alerts"] if a["key"] == f"crisis-line:{record['id']}"
    )
    assert words in alert["text"] and "still with Sam" in alert["text"]
    acked = await jo.post(f"/api/supervisor/alerts/{alert['key']}/acknowledge")
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "Jo"
    assert ("telephony", "crisis_line_not_connected") in await trail(harness)
    # The listener may try again (another line, or the same one once it is free).
    getattr(sim, line).discard(CRISIS_TEAM)
    assert (await sam.post("/api/listener/calls/current/crisis-line", json={"line_id": 2})).status_code == 201


async def test_a_crisis_line_that_rings_on_is_stopped_and_the_caller_comes_off_hold(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    sim.slow_to_answer.add(CRISIS_TEAM)
    record = (
        await sam.post("/api/listener/calls/current/crisis-line", json={"line_id": 1, "hold_caller": True})
    ).json()
    await sim.deliver()
    room, on_line = legs(sim, caller)
    crisis_sid = next(sid for sid, c in sim.calls.items() if c.to == CRISIS_TEAM)
    assert on_line["caller"].hold is True and sim.calls[crisis_sid].status == "ringing"
    harness.clock.advance(seconds=harness.runtime.settings.crisis_ring_seconds)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    room, on_line = legs(sim, caller)
    assert on_line["caller"].hold is False and sim.calls[crisis_sid].status in ("canceled", "completed")
    assert (await sam.get(f"/api/helpline/safeguarding/{record['id']}")).json()["crisis_state"] == "no-answer"
    assert (
        await sam.post(f"/api/helpline/safeguarding/{record['id']}/crisis-line/handover", json={})
    ).status_code == 409


async def test_no_crisis_line_without_a_call_or_one_configured(harness, sim, make_harness):
    _, sam = await listener(harness, display_name="Sam")
    assert (await sam.post("/api/listener/calls/current/crisis-line", json={"line_id": 1})).status_code == 409
    caller, card = await answered(harness, sim, sam)
    response = await sam.post("/api/listener/calls/current/crisis-line", json={"line_id": 9})
    assert response.status_code == 422 and "no such crisis line" in response.text
    assert not [c for c in sim.calls.values() if c.to in (CRISIS_TEAM, NHS_111)]
