"""How many SQL statements the hottest paths cost, so that a change which adds round trips to
every incoming call (or to taking the next caller) is noticed in review, not in a retry storm.
The counts are what these paths need today; raise them only on purpose."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from app.core.jobs import CANCELLED, Job
from app.shiftlead.alerts import WAIT_ALERT_JOB
from telephony.lifecycle import OVERFLOW_JOB
from telephony.models import Call, CallParticipant
from tests.scenarios import take_call
from tests.telephony.conftest import deliveries, listener, rows, signed_post, sim  # noqa: F401 - the simulator fixture

# An incoming call: its delivery, the call, the overflow and long-wait jobs, the queue snapshot,
# the queue's live event to listeners and supervisors (one INSERT); SQLite's BEGIN IMMEDIATE or
# PostgreSQL's one NOTIFY. Before group commit it was 11 on SQLite, 14 on PostgreSQL, in two
# transactions.
INCOMING_CALL = {"sqlite": 7, "postgresql": 7}
# Taking the next caller, ringing the listener included: the session cookie's lookup (which loads
# the listener, so nothing reads them again); one UPDATE that picks, claims and returns the
# longest-waiting caller; one upsert tying them to the listener (their presence row with it);
# the claim-timeout job; the queue snapshot and its live event (and PostgreSQL's NOTIFY); the
# ring's safety net, stored with the claim. After commit the listener's line is rung at once, and
# its leg recorded with the safety net cancelled (two UPDATEs). Was 18 on SQLite, 19 on
# PostgreSQL (a select-then-update claim, the presence row written twice, the call read again,
# and a job run after commit to read the call and the listener again before ringing).
TAKE_NEXT_CALLER = {"sqlite": 9, "postgresql": 10}
# A waiting caller's own participant-join, the commonest conference event: its delivery, the call
# (found by the room's name), the held events (none), the call's ConferenceSid and sequence (one
# UPDATE), the caller's participant row (one upsert), the delivery tied to the call with its
# outcome; SQLite's BEGIN IMMEDIATE. Was 10 on SQLite (the participant read before it was
# inserted, the held events loaded as objects, the delivery and the call each updated twice).
CONFERENCE_JOIN = {"sqlite": 7, "postgresql": 6}
# A waiting caller hangs up (their status callback, ``completed``): its delivery, the call, who was
# in the room (for who ended it), the call's end in one UPDATE, the queue snapshot and its live
# event, the caller's wait timers cancelled (one UPDATE at commit, one for a whole batch); SQLite's
# BEGIN IMMEDIATE or PostgreSQL's NOTIFY. Was 8 without the timers: reading the room flushed the
# call's status on its own, and the end followed in a second UPDATE.
HANG_UP_WAITING = {"sqlite": 8, "postgresql": 8}


def incoming(sid: str) -> dict[str, str]:
    number = "+447700900123"
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": number,
        "To": "+441234000000",
        "CallStatus": "ringing",
    }


@contextmanager
def counted(harness):
    statements: list[str] = []

    def note(_conn, _cursor, statement, _params, _context, _many):
        statements.append(statement)

    # The process's engine, and on SQLite the one the webhook writer and the jobs run inline on.
    harness.runtime.inline_sessionmaker  # noqa: B018 - opens that engine, so that it can be listened to
    engines = {
        harness.runtime.engine.sync_engine,
        (harness.runtime.inline_engine or harness.runtime.engine).sync_engine,
    }
    for engine in engines:
        event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", note)


async def first_and_retry(harness, sim, item) -> list[str]:
    """The statements a webhook's first delivery costs; its retry must cost only the stored reply."""
    with counted(harness) as statements:
        assert (await sim.post(item)).status == 200
    with counted(harness) as again:
        assert (await sim.post(item)).status == 200
    assert len(again) <= 3, "\n".join(again)  # a retry: the stored reply, nothing else
    return statements


async def test_an_incoming_call_costs_a_handful_of_statements(harness, client, sim):
    await signed_post(client, sim, "/telephony/voice/incoming", incoming("CA" + "a" * 32))  # warm caches
    with counted(harness) as statements:
        answer = await signed_post(client, sim, "/telephony/voice/incoming", incoming("CA" + "b" * 32))
    assert answer.status_code == 200
    dialect = harness.runtime.engine.dialect.name
    assert len(statements) <= INCOMING_CALL[dialect], "\n".join(statements)
    with counted(harness) as statements:
        again = await signed_post(client, sim, "/telephony/voice/incoming", incoming("CA" + "b" * 32))
    assert again.text == answer.text
    assert len(statements) <= 3, "\n".join(statements)  # a retry: the stored reply, nothing else


async def test_taking_the_next_caller_costs_no_more_than_it_did(harness, sim):
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    _, client = await listener(harness)
    with counted(harness) as statements:
        await take_call(client)
    assert len(statements) <= TAKE_NEXT_CALLER[harness.runtime.engine.dialect.name], "\n".join(statements)


async def test_a_conference_event_costs_a_handful_of_statements(harness, sim):
    counts = []
    for _ in range(2):  # the first warms the caches
        caller = sim.caller()
        await caller.arrive()
        voice = sim.outbox.pop()
        sim.follow(sim.calls[voice.call_sid], await sim.post(voice), kind="voice")
        join = next(item for item in sim.outbox if item.params.get("StatusCallbackEvent") == "participant-join")
        counts.append(await first_and_retry(harness, sim, join))
        sim.outbox.clear()  # the rest of the caller's story (status callbacks, hold music) is not needed
    # What the join did, the cheap way: both callers are in their rooms and known to have joined.
    joined = [row for row in await rows(harness, CallParticipant) if row.role == "caller" and row.joined_at]
    assert len(joined) == 2
    stored = [d for d in await deliveries(harness) if d.endpoint == "conference"]
    assert [(d.outcome, d.call_id is not None) for d in stored] == [("applied", True)] * 2
    assert len(counts[-1]) <= CONFERENCE_JOIN[harness.runtime.engine.dialect.name], "\n".join(counts[-1])


async def test_a_waiting_caller_hanging_up_costs_a_handful_of_statements(harness, sim):
    counts = []
    for _ in range(2):  # the first warms the caches
        caller = sim.caller()
        await caller.arrive()
        await sim.deliver()
        sim.outbox.clear()
        await caller.hang_up()
        # Only the status callback: the caller's participant-leave is not needed for the end.
        status = next(item for item in sim.outbox if item.params.get("CallStatus") == "completed")
        counts.append(await first_and_retry(harness, sim, status))
        sim.outbox.clear()
    ended = await rows(harness, Call)
    assert [(c.status, c.queue_state, c.abandoned, c.ended_by) for c in ended] == [
        ("completed", "ended", True, "caller")
    ] * 2
    # Their overflow and long-wait alert will never be wanted: cancelled, not left to run.
    timers = [(j.kind, j.status) for j in await rows(harness, Job) if j.kind in (OVERFLOW_JOB, WAIT_ALERT_JOB)]
    assert sorted(timers) == sorted([(OVERFLOW_JOB, CANCELLED), (WAIT_ALERT_JOB, CANCELLED)] * 2)
    assert len(counts[-1]) <= HANG_UP_WAITING[harness.runtime.engine.dialect.name], "\n".join(counts[-1])
