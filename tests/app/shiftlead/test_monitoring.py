"""Supervisors on a listener's call through the strict Twilio twin: listen, coach, barge, leave,
with the simulator saying who hears whom (a coach is never heard by the caller)."""

import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from telephony.monitoring_models import SupervisorLeg
from tests.scenarios import answered, hang_up
from tests.telephony.conftest import listener, sim  # noqa: F401 - the simulator fixture


async def on_a_call(harness, sim):
    await harness.add_user("jo", "supervisor", display_name="Jo")
    sam_user, sam = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, sam)
    return caller, card, sam, await harness.signed_in("jo")


def legs(sim, caller):
    room = next(r for r in sim.conferences.values() if caller.call.sid in r.participants)
    by_label = {p.label: p.call_sid for p in room.participants.values()}
    return by_label["listener"], by_label.get("supervisor-1") or next(
        (sid for label, sid in by_label.items() if label and label.startswith("supervisor-")), None
    )


async def audit_actions(harness):
    async with session_scope(harness.runtime) as session:
        return [
            (a.action, a.detail.get("mode"))
            for a in (
                await session.scalars(
                    sa.select(AuditEvent).where(AuditEvent.subject_type == "call").order_by(AuditEvent.id)
                )
            ).all()
        ]


async def test_a_supervisor_listens_then_coaches_then_barges_then_leaves(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    joined = await jo.post(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "listen"})
    assert joined.status_code == 201, joined.text
    assert (joined.json()["state"], joined.json()["via"]) == ("dialling", "browser")
    await sim.deliver()
    listener_leg, jo_leg = legs(sim, caller)
    assert sim.calls[jo_leg].to.startswith("client:supervisor_")
    me = caller.call.sid
    assert sim.can_hear(jo_leg, me) and sim.can_hear(jo_leg, listener_leg)  # Jo hears both...
    assert not sim.can_hear(me, jo_leg) and not sim.can_hear(listener_leg, jo_leg)  # ...and nobody hears Jo
    others = (await sam.get("/api/listener/calls/current/others")).json()
    assert others == [{"name": "Jo", "role": "supervisor", "mode": "listen"}]

    coach = await jo.put(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "coach"})
    assert coach.status_code == 200, coach.text
    await sim.deliver()
    assert sim.can_hear(listener_leg, jo_leg) and not sim.can_hear(me, jo_leg)  # the caller never hears a coach
    assert sim.can_hear(jo_leg, me)

    assert (await jo.put(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "barge"})).status_code == 200
    await sim.deliver()
    assert sim.can_hear(me, jo_leg) and sim.can_hear(listener_leg, jo_leg)

    left = await jo.delete(f"/api/supervisor/calls/{card['call_id']}/monitor")
    assert left.status_code == 200 and left.json()["state"] == "left"
    await sim.deliver()
    assert legs(sim, caller)[1] is None and caller.state == "connected"  # the caller is still with Sam
    assert sim.can_hear(me, listener_leg)
    assert await audit_actions(harness) == [
        ("join_call", "listen"),
        ("switch_monitoring", "coach"),
        ("switch_monitoring", "barge"),
        ("leave_call", None),
    ]
    assert (await sam.get("/api/listener/calls/current/others")).json() == []


async def test_a_listener_is_not_told_of_a_quiet_supervisor_when_the_line_says_so(make_harness):
    from tests.telephony.conftest import simulator_for

    harness = await make_harness(tell_listener_when_monitored=False)
    sim = simulator_for(harness)
    caller, card, sam, jo = await on_a_call(harness, sim)
    await jo.post(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "coach"})
    await sim.deliver()
    assert (await sam.get("/api/listener/calls/current/others")).json() == []
    await jo.put(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "barge"})
    await sim.deliver()
    assert (await sam.get("/api/listener/calls/current/others")).json()[0][
        "mode"
    ] == "barge"  # the caller hears them too
    await sim.close()


async def test_two_supervisors_and_an_ended_call_are_refused(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    await harness.add_user("kim", "supervisor", display_name="Kim")
    kim = await harness.signed_in("kim")
    assert (
        await jo.post(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "listen"})
    ).status_code == 201
    second = await kim.post(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "barge"})
    assert second.status_code == 409 and "Jo is already on this call" in second.text
    await jo.delete(f"/api/supervisor/calls/{card['call_id']}/monitor")
    await hang_up(sim, caller)
    late = await kim.post(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "listen"})
    assert late.status_code == 409 and late.json()["error"] == "call_gone"
    async with session_scope(harness.runtime) as session:
        assert [leg.state for leg in (await session.scalars(sa.select(SupervisorLeg))).all()] == ["left"]


async def test_a_coach_whose_line_drops_is_recorded_and_the_caller_stays_with_the_listener(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    await jo.post(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "coach"})
    await sim.deliver()
    listener_leg, jo_leg = legs(sim, caller)
    sim.drop(jo_leg)
    await sim.deliver()
    async with session_scope(harness.runtime) as session:
        leg = await session.scalar(sa.select(SupervisorLeg))
    assert (leg.state, leg.left_reason) == ("left", "participant_hung_up")
    assert caller.state == "connected" and sim.can_hear(caller.call.sid, listener_leg)


async def test_when_the_listeners_line_drops_a_coaching_supervisor_takes_over_the_call(harness, sim):
    caller, card, sam, jo = await on_a_call(harness, sim)
    await jo.post(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "coach"})
    await sim.deliver()
    listener_leg, jo_leg = legs(sim, caller)
    sim.drop(listener_leg)
    await sim.deliver()
    assert sim.can_hear(caller.call.sid, jo_leg) and sim.can_hear(jo_leg, caller.call.sid)  # not alone, not unheard
    async with session_scope(harness.runtime) as session:
        leg = await session.scalar(sa.select(SupervisorLeg))
    assert (leg.mode, leg.state) == ("barge", "joined")
    assert ("supervisor_took_over", None) in await audit_actions(harness)


async def test_a_supervisor_on_a_desk_phone_is_rung_there(harness, sim):
    await harness.add_user("jo", "supervisor", display_name="Jo", dial_address="+441632960555")
    _, sam = await listener(harness)
    caller, card = await answered(harness, sim, sam)
    jo = await harness.signed_in("jo")
    joined = await jo.post(f"/api/supervisor/calls/{card['call_id']}/monitor", json={"mode": "listen"})
    assert joined.json()["via"] == "desk"
    await sim.deliver()
    assert sim.calls[legs(sim, caller)[1]].to == "+441632960555"


async def test_a_supervisor_gets_a_voice_token_for_the_identity_the_monitoring_leg_rings(make_harness):
    import re

    from tests.scenarios import claims_of

    harness = await make_harness(twilio_api_key_sid="SK" + "2" * 32, twilio_api_key_secret="k" * 32)
    jo_user = await harness.add_user("jo", "supervisor", display_name="Jo")
    jo = await harness.signed_in("jo")
    body = (await jo.get("/api/supervisor/voice-token")).json()
    assert body["identity"] == f"supervisor_{jo_user.id}" and re.fullmatch(r"[A-Za-z0-9_]+", body["identity"])
    assert claims_of(body["token"])["grants"]["identity"] == body["identity"]
    assert claims_of(body["token"])["grants"]["voice"]["incoming"] == {"allow": True}
    headset = (await jo.get("/api/supervisor/headset")).json()
    assert headset["identity"] == body["identity"]
    _, sam = await listener(harness, display_name="Sam")
    assert (await sam.get("/api/supervisor/voice-token")).status_code == 403  # listeners keep their own
    assert (await sam.get("/api/listener/voice-token")).json()["identity"].startswith("listener_")
