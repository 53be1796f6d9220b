"""Coded outcomes beside the free text, on SQLite and PostgreSQL: a partner completes with how the
caller was helped and declines or gives up with why not; a code from the wrong list is a 422
naming ``outcome_code`` with the ticket unmoved; the code shows in the partner's and the helpline's
views and in the trail."""

from __future__ import annotations

from tests.conftest import load_demo_directory
from tests.scenarios import logged_session, partner, service_id, transfer


async def _ticket(harness, worker_name: str = "ca-worker"):
    """A warm transfer to Citizens Advice, the listener who made it and a partner worker there."""
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ticket_id = (await transfer(listener, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    return ticket_id, (session_id, listener), await partner(harness, organisations, username=worker_name)


def _refused_field(response) -> str:
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["field"]


async def test_complete_takes_only_a_way_the_caller_was_helped(harness):
    ticket_id, (_, listener), worker = await _ticket(harness)
    path = f"/api/partner/v1/tickets/{ticket_id}"
    await worker.post(f"{path}/accept")
    await worker.post(f"{path}/confirm-contact")
    words = {"outcome": "weekly sessions booked"}
    assert _refused_field(await worker.post(f"{path}/complete", json=words)) == "outcome_code"
    declined_code = await worker.post(f"{path}/complete", json=words | {"outcome_code": "no-capacity"})
    assert _refused_field(declined_code) == "outcome_code"
    assert "ongoing-support" in declined_code.json()["detail"][0]["message"]
    assert _refused_field(await worker.post(f"{path}/complete", json=words | {"outcome_code": "cured"})).endswith(
        "outcome_code"
    )
    assert (await worker.get(path)).json()["status"] == "in-progress"  # nothing half-written

    done = await worker.post(f"{path}/complete", json=words | {"outcome_code": "ongoing-support"})
    assert done.status_code == 200 and done.json()["outcome_code"] == "ongoing-support"
    assert done.json()["events"][-1]["outcome_code"] == "ongoing-support"
    mine = (await listener.get(f"/api/helpline/tickets/{ticket_id}")).json()
    assert mine["outcome_code"] == "ongoing-support"
    assert [(e["action"], e["outcome_code"]) for e in mine["events"]][-2:] == [
        ("confirm_contact", None),
        ("complete", "ongoing-support"),
    ]


async def test_decline_and_give_up_take_only_a_reason_it_did_not_go_through(harness):
    ticket_id, (session_id, listener), worker = await _ticket(harness)
    path = f"/api/partner/v1/tickets/{ticket_id}"
    reason = {"reason": "no spaces until January", "reroute": "helpline"}
    assert _refused_field(await worker.post(f"{path}/decline", json=reason)) == "outcome_code"
    helped_code = await worker.post(f"{path}/decline", json=reason | {"outcome_code": "peer-support"})
    assert _refused_field(helped_code) == "outcome_code"
    assert (await worker.get(path)).json()["status"] == "requested"
    declined = await worker.post(f"{path}/decline", json=reason | {"outcome_code": "no-capacity"})
    assert declined.status_code == 200 and declined.json()["outcome_code"] == "no-capacity"
    assert (await listener.get(f"/api/helpline/tickets/{ticket_id}")).json()["outcome_code"] == "no-capacity"

    second = (await transfer(listener, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    path = f"/api/partner/v1/tickets/{second}"
    assert _refused_field(await worker.post(f"{path}/accept", json={"outcome_code": "no-capacity"})) == "outcome_code"
    await worker.post(f"{path}/accept")
    await worker.post(f"{path}/contact-attempt", json={"reason": "no answer"})
    gave_up = {"reason": "three tries, no answer"}
    assert _refused_field(await worker.post(f"{path}/give-up", json=gave_up)) == "outcome_code"
    wrong = await worker.post(f"{path}/give-up", json=gave_up | {"outcome_code": "one-off-intervention"})
    assert _refused_field(wrong) == "outcome_code"
    failed = await worker.post(f"{path}/give-up", json=gave_up | {"outcome_code": "could-not-contact"})
    assert failed.status_code == 200 and failed.json()["status"] == "failed"
    # The give-up, then the helpline taking the caller back (its follow-ups), in that order.
    assert [e["action"] for e in failed.json()["events"][-2:]] == ["give_up", "take_back"]
    assert failed.json()["events"][-2] | {"at": None} == {
        "at": None,
        "actor": "user:ca-worker",
        "action": "give_up",
        "from": "on-hold",
        "to": "failed",
        "reason": "three tries, no answer",
        "outcome_code": "could-not-contact",
    }


async def test_the_choices_offered_are_the_codes_each_action_takes(harness):
    """One list: the partner page draws its choices from /outcome-codes, so what it offers is
    exactly what the actions accept, in the helpline's words."""
    ticket_id, (_, listener), worker = await _ticket(harness)
    served = await worker.get("/api/partner/v1/outcome-codes")
    assert served.status_code == 200
    codes = {path: [c["code"] for c in listed] for path, listed in served.json().items()}
    assert set(codes) == {"complete", "decline", "give-up"}
    assert codes["complete"] == ["ongoing-support", "one-off-intervention", "peer-support"]
    assert codes["decline"] == codes["give-up"] and "could-not-contact" in codes["decline"]
    assert not set(codes["complete"]) & set(codes["decline"])
    assert {"code": "no-capacity", "words": "No capacity"} in served.json()["decline"]
    path = f"/api/partner/v1/tickets/{ticket_id}"
    refused = await worker.post(f"{path}/decline", json={"reason": "full", "outcome_code": codes["complete"][0]})
    assert _refused_field(refused) == "outcome_code"
    declined = await worker.post(f"{path}/decline", json={"reason": "full", "outcome_code": codes["decline"][-1]})
    assert declined.status_code == 200, declined.text
    assert (await listener.get("/api/partner/v1/outcome-codes")).status_code == 403
