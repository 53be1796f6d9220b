"""The board's figures, counted by the database over bounded windows, against hand-counted
calls and warm transfers on both databases: tonight's line, the staffing this hour needs, the
handover times, and each listener's last call. Rows outside the windows must not count."""

from __future__ import annotations

from datetime import timedelta

from app.board.service import summarise_calls
from app.capacity.erlang import listeners_needed
from app.core.db import session_scope
from telephony.models import Call
from tests.conftest import load_demo_directory
from tests.scenarios import service_id
from transfers.tickets.models import TransferTicket
from transfers.tickets.stats import TicketTimes, measure_handovers

OPEN = ("requested", "accepted", "on-hold")


def _call(sid, at, *, waited, answered=True, abandoned=False, handled_minutes=None, listener_id=None, direction=None):
    return Call(
        call_sid=sid,
        direction=direction or "inbound",
        status="completed",
        created_at=at,
        updated_at=at,
        waiting_since=at,
        queue_state="ended",
        answered_at=at + timedelta(seconds=waited) if answered else None,
        ended_at=at + timedelta(seconds=waited, minutes=handled_minutes or 0) if answered else at,
        wait_seconds=waited,
        abandoned=abandoned,
        listener_id=listener_id,
    )


def _ticket(service, user, made, *, status, accepted=None, reached=None):
    return TransferTicket(
        service_id=service,
        created_by=user,
        status=status,
        needs=["money"],
        risk_level="low",
        consent_covers="needs",
        consent_recorded_at=made,
        consent_recorded_by=user,
        accept_by=made + timedelta(hours=24),
        contact_by=made + timedelta(hours=72),
        accepted_at=made + timedelta(hours=accepted) if accepted is not None else None,
        handover_at=made + timedelta(hours=reached) if reached is not None else None,
        created_at=made,
        updated_at=made,
    )


async def _board(harness) -> dict:
    await harness.add_user("jo", "supervisor")
    response = await (await harness.signed_in("jo")).get("/api/supervisor/board")
    assert response.status_code == 200, response.text
    return response.json()


async def test_tonight_counts_the_last_twelve_hours_of_callers_only(harness):
    now = harness.clock.now()
    tonight = [
        _call("CA1", now - timedelta(hours=1), waited=15),
        _call("CA2", now - timedelta(hours=2), waited=75),
        _call("CA3", now - timedelta(hours=3), waited=50, answered=False, abandoned=True),
        _call("CA4", now - timedelta(hours=11), waited=31),
    ]
    async with session_scope(harness.runtime) as session:
        session.add_all(tonight)
        # Yesterday's caller and tonight's ring-back are not tonight's demand.
        session.add(_call("CA5", now - timedelta(hours=13), waited=400))
        session.add(_call("CA6", now - timedelta(minutes=5), waited=500, direction="outbound-api"))
    figures = (await _board(harness))["tonight"]
    # Hand-counted: 4 offered, 3 answered (15, 75, 31 s: 2 within 60 s), 1 gave up after 50 s.
    assert (figures["offered"], figures["answered"], figures["abandoned"]) == (4, 3, 1)
    assert figures["answered_within_target"] == 2 and figures["service_level"] == 0.5
    assert figures["average_speed_of_answer_seconds"] == round((15 + 75 + 31) / 3, 1)
    assert figures["longest_wait_seconds"] == 75
    expected = summarise_calls(tonight)
    assert figures["average_speed_of_answer_seconds"] == expected.average_speed_of_answer_seconds
    assert figures["longest_wait_seconds"] == expected.longest_wait_seconds


async def test_staffing_uses_this_hour_over_four_weeks_and_their_handle_time(harness):
    now = harness.clock.now()
    this_hour = now.replace(minute=10, second=0, microsecond=0)
    async with session_scope(harness.runtime) as session:
        # 56 callers at this hour over the four weeks (2 a day), 10 min each; 28 at another hour, 20 min.
        for day in range(1, 29):
            for n in range(2):
                session.add(_call(f"CA{day}-{n}", this_hour - timedelta(days=day), waited=10, handled_minutes=10))
            session.add(_call(f"CB{day}", this_hour - timedelta(days=day, hours=3), waited=10, handled_minutes=20))
        # Older than four weeks, and a ring-back: neither counts.
        session.add(_call("CC1", this_hour - timedelta(days=29), waited=10, handled_minutes=600))
        session.add(
            _call("CC2", this_hour - timedelta(days=2), waited=10, handled_minutes=600, direction="outbound-api")
        )
    staffing = (await _board(harness))["staffing"]
    handle = (56 * 10 + 28 * 20) / 84 * 60
    needed, rota = listeners_needed(2.0, handle, 60, 0.8, shrinkage=0.3)
    assert staffing == {
        "calls_per_hour": 2.0,
        "handle_minutes": round(handle / 60, 1),
        "listeners_needed": needed.listeners,
        "rota_with_shrinkage": rota,
    }


async def test_handover_times_over_the_last_four_weeks_and_the_whole_open_queue(harness):
    await load_demo_directory(harness)
    sam = await harness.add_user("sam", "listener")
    money = await service_id(harness, "ca-money")
    now = harness.clock.now()
    days = timedelta(days=1)
    recent = [
        _ticket(money, sam.id, now - 10 * days, status="completed", accepted=2, reached=70),
        _ticket(money, sam.id, now - 9 * days, status="completed", accepted=4, reached=74),
        _ticket(money, sam.id, now - 8 * days, status="in-progress", accepted=30, reached=31),
        _ticket(money, sam.id, now - 7 * days, status="accepted", accepted=0.1),
        _ticket(money, sam.id, now - 1 * days, status="requested"),
    ]
    older = [
        # Handed over long ago: outside the window, so not in tonight's times.
        _ticket(money, sam.id, now - 60 * days, status="completed", accepted=500, reached=900),
        # Still waiting after 30 days: the open queue counts it, whenever it was made.
        _ticket(money, sam.id, now - 30 * days, status="on-hold", accepted=1),
    ]
    async with session_scope(harness.runtime) as session:
        session.add_all(recent + older)
    waits = (await _board(harness))["transfers"]["waits"]
    # Hand-counted: to accept 2, 4, 30, 0.1 h (median 3 h); to handover 70, 74, 31 h (median 70 h).
    assert waits["to_accept"] == {"mean_hours": 9.0, "median_hours": 3.0, "median_seconds": 3 * 3600, "count": 4}
    assert waits["to_contact"] == {"mean_hours": 58.3, "median_hours": 70.0, "median_seconds": 70 * 3600, "count": 3}
    assert waits["longest_open_wait_seconds"] == 30 * 24 * 3600 and waits["open_past_four_weeks"] == 1
    # The same arithmetic over the tickets in hand (the window's, and every open one) agrees.
    in_hand = [TicketTimes(t.created_at, t.accepted_at, t.handover_at, t.status in OPEN) for t in recent]
    pure = measure_handovers(in_hand, now)
    open_old = measure_handovers([TicketTimes(older[1].created_at, None, None, True)], now)
    assert waits["to_accept"] == pure["to_accept"] and waits["to_contact"] == pure["to_contact"]
    assert waits["longest_open_wait_hours"] == open_old["longest_open_wait_hours"]


async def test_an_empty_line_shows_no_figures_rather_than_zeros(harness):
    board = await _board(harness)
    assert board["tonight"]["offered"] == 0 and board["tonight"]["average_speed_of_answer_seconds"] is None
    assert board["tonight"]["longest_wait_seconds"] is None and board["tonight"]["service_level"] is None
    waits = board["transfers"]["waits"]
    assert waits["to_accept"]["count"] == 0 and waits["to_accept"]["median_seconds"] is None
    assert waits["longest_open_wait_seconds"] is None and waits["open_past_four_weeks"] == 0


async def test_each_listener_shows_their_latest_ended_call(harness):
    sam = await harness.add_user("sam", "listener")
    ali = await harness.add_user("ali", "listener")
    now = harness.clock.now()
    async with session_scope(harness.runtime) as session:
        for n in range(5):
            session.add(_call(f"CS{n}", now - timedelta(days=n + 1), waited=5, handled_minutes=10, listener_id=sam.id))
        latest = _call("CS9", now - timedelta(hours=2), waited=5, handled_minutes=10, listener_id=sam.id)
        latest.ended_by = "caller"
        session.add(latest)
    listeners = {p["name"]: p for p in (await _board(harness))["listeners"]}
    last = listeners[sam.display_name]["last_call"]
    assert last["id"] == latest.id and last["ended_by"] == "caller"
    assert last["ended_at"] == latest.ended_at.isoformat()
    assert listeners[ali.display_name]["last_call"] is None
