"""The capacity model from recorded data, checked against a hand-counted month on both databases."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.capacity.demand import HourTotals, fold_by_hour_of_week
from app.capacity.erlang import listeners_for_targets, rota_size
from app.capacity.simulate import recorded_demand
from app.core.db import session_scope
from tests.app.capacity.fixtures import MONDAY_8PM, record_a_month, record_transfers
from tests.conftest import load_demo_directory
from transfers.directory.models import Service


@pytest.fixture
async def month(harness):
    ana = await harness.add_user("ana", "listener")
    ben = await harness.add_user("ben", "listener")
    await harness.add_user("jo", "supervisor")
    await record_a_month(harness, ana.id, ben.id)
    return harness


async def test_the_model_counts_the_month_by_hour_of_the_week(month):
    model = (await (await month.signed_in("jo")).get("/api/capacity")).json()
    assert len(model["hours"]) == 168
    monday_8pm = model["hours"][MONDAY_8PM]
    assert (monday_8pm["day"], monday_8pm["hour"]) == ("mon", 20)
    # 12 calls over 4 Mondays; 4 gave up; 2 sessions a week of 20 min + 2 min wrap-up.
    assert monday_8pm["calls_per_hour"] == 3.0
    assert monday_8pm["abandoned_share"] == pytest.approx(4 / 12, abs=0.001)
    assert model["handle_seconds"] == 22 * 60
    # Patience: 4 x (30 + 30 + 120) s waited, over the 4 who gave up.
    assert model["patience_seconds"] == 180.0
    # Ana all month, Ben on at half past eight every Monday.
    assert monday_8pm["available"] == 2.0
    assert model["hours"][MONDAY_8PM + 1]["available"] == 1.0
    assert model["hours"][MONDAY_8PM + 1]["calls_per_hour"] == 0

    needed = listeners_for_targets(3.0, 22 * 60, 180.0)
    # 1.1 erlangs, yet 95% within 60 s with callers who give up after 3 minutes takes four.
    assert monday_8pm["needed"] == needed.listeners == 4
    assert monday_8pm["needed_erlang_c"] >= monday_8pm["needed"]
    assert monday_8pm["rota"] == rota_size(4, 0.30) == 6
    assert monday_8pm["gap"] == -2.0
    assert model["week"]["hours_under"] == 1
    assert model["week"]["calls_per_week"] == 3.0


async def test_adding_two_listeners_on_monday_evening_meets_the_targets(month):
    client = await month.signed_in("jo")
    before = (await client.get("/api/capacity")).json()
    after = (
        await client.get("/api/capacity", params={"add_listeners": 2, "add_days": "mon", "add_from": 20, "add_to": 21})
    ).json()
    assert after["hours"][MONDAY_8PM]["gap"] == 0
    assert after["hours"][MONDAY_8PM + 1]["added"] == 0
    assert after["what_if"]["week"]["hours_under"] == 0
    assert after["what_if"]["week"]["service_level"] > before["week"]["service_level"]
    assert after["what_if"]["week"]["abandonment"] < before["week"]["abandonment"]
    assert after["hours"][MONDAY_8PM]["predicted"]["service_level"] >= 0.95


async def test_the_partners_side_counts_warm_transfers_per_service(month):
    await load_demo_directory(month)
    creator = await month.add_user("sam", "listener")
    service_id = await record_transfers(month, creator.id, "ca-money")
    client = await month.signed_in("jo")
    model = (await client.get("/api/capacity")).json()
    load = next(s for s in model["services"] if s["service_id"] == service_id)
    assert (load["arriving_per_week"], load["accepted_per_week"], load["completed_per_week"]) == (1.0, 0.5, 0.25)
    # Open now: the accepted one, both requested, and the one from before the month.
    assert load["open_now"] == 4
    # Open at the end of each week: the old one, plus each new one until the partner reached them.
    assert load["open_by_week"] == [2, 2, 3, 4]
    # Little's law: 4 open over 1/7 of a ticket a day.
    assert load["expected_wait_days"] == 28.0
    assert load["beyond_capacity"] is True
    assert load["beyond_capacity_because"] == ["arriving faster than completed"]
    assert load["name"] in model["pinch_points"]["beyond_capacity"]
    # Taunton: 2 days to handover, and 14 d 8 h still waiting; Yeovil: 7 d 8 h and 6 d 8 h.
    assert model["pinch_points"]["longest_waiting_localities"] == [
        {"locality": "Somerset West & Taunton", "tickets": 2, "mean_wait_days": 8.17},
        {"locality": "South Somerset", "tickets": 2, "mean_wait_days": 6.83},
    ]


async def test_pausing_a_service_reroutes_its_warm_transfers(month):
    await load_demo_directory(month)
    creator = await month.add_user("sam", "listener")
    service_id = await record_transfers(month, creator.id, "ca-money")
    client = await month.signed_in("jo")
    model = (await client.get("/api/capacity", params={"pause": service_id})).json()
    paused = next(s for s in model["services"] if s["service_id"] == service_id)
    assert paused["paused"] is True and paused["arriving_per_week"] == 0
    moves = model["what_if"]["rerouted"]
    assert moves and all(m["from_service"] == paused["name"] for m in moves)
    assert sum(m["per_week"] for m in moves) == pytest.approx(1.0, abs=0.02)
    assert {m["need"] for m in moves} == {"money", "debt", "employment"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"add_listeners": -1}, "add_listeners"),
        ({"add_listeners": 51}, "add_listeners"),
        ({"add_days": "someday"}, "add_days"),
        ({"add_from": 22, "add_to": 20}, "add_to"),
        ({"add_to": 25}, "add_to"),
        ({"pause": 0}, "pause"),
        ({"pause": 999999}, "pause"),
        ({"weeks": 0}, "weeks"),
        ({"shrinkage": 0.95}, "shrinkage"),
    ],
)
async def test_bad_what_if_input_is_a_422_naming_the_field(month, params, field):
    response = await (await month.signed_in("jo")).get("/api/capacity", params=params)
    assert response.status_code == 422
    assert any(field in item["field"] for item in response.json()["detail"]), response.json()


async def test_only_supervisors_and_admins_see_capacity(month):
    organisations = await load_demo_directory(month)
    await month.add_user("ca-worker", "partner", organisation_id=organisations["citizens-advice"])
    for outsider in ("ana", "ca-worker"):
        client = await month.signed_in(outsider)
        assert (await client.get("/api/capacity")).status_code == 403
        assert (await client.get("/reports/capacity")).status_code == 403
    async with month.client() as anonymous:
        assert (await anonymous.get("/api/capacity")).status_code == 401
        page = await anonymous.get("/reports/capacity")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    await month.add_user("ada", "admin")
    assert (await (await month.signed_in("ada")).get("/api/capacity")).status_code == 200
    page = await (await month.signed_in("jo")).get("/reports/capacity")
    assert page.status_code == 200 and 'role="img"' in page.text and page.text.count("<tr>") > 168


def test_the_clock_going_back_makes_one_hour_of_the_week_twice():
    # 25 Oct 2026, 02:00 BST becomes 01:00 GMT: Sunday 01:00-02:00 happens twice that week,
    # and a week of UTC hours from Monday 00:00 UTC starts at 01:00 local, missing Monday 00:00.
    start, end = datetime(2026, 10, 19, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)
    calls = {
        datetime(2026, 10, 25, 0, tzinfo=UTC): HourTotals(offered=1),
        datetime(2026, 10, 25, 1, tzinfo=UTC): HourTotals(offered=1),
    }
    week = fold_by_hour_of_week(calls, start, end)
    sunday_1am = 6 * 24 + 1
    assert (week[sunday_1am].hours, week[sunday_1am].offered) == (2, 2)
    assert week[0].hours == 0
    assert sum(h.hours for h in week) == 168


async def test_the_simulation_can_learn_from_the_records(month):
    async with session_scope(month.runtime) as session:
        rates, handle, patience = await recorded_demand(session)
    assert rates[MONDAY_8PM] == 3.0 and sum(rates) == 3.0
    # SQLite measures time in fractional days: a few microseconds either way.
    assert (handle, patience) == (pytest.approx(22 * 60, abs=0.01), 180.0)


async def test_the_partners_own_figures_also_say_a_service_is_beyond_capacity(month):
    await load_demo_directory(month)
    async with session_scope(month.runtime) as session:
        services = {s.slug: s for s in (await session.scalars(select(Service))).all()}
        services["ca-money"].spaces = 0
        services["mind-peer-support"].waiting_list = "over-4-weeks"
        services["second-step-housing"].waiting_list = "1-4-weeks"
    model = (await (await month.signed_in("jo")).get("/api/capacity")).json()
    because = {s["name"]: s["beyond_capacity_because"] for s in model["services"]}
    names = {slug: s.name for slug, s in services.items()}
    assert because[names["ca-money"]] == ["no places, says the partner"]
    assert because[names["mind-peer-support"]] == ["waiting list longer than 4 weeks"]
    assert because[names["second-step-housing"]] == []
    assert set(model["pinch_points"]["beyond_capacity"]) == {names["ca-money"], names["mind-peer-support"]}
