import random
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from transfers.availability import Availability, Closure
from transfers.hours import always_open, parse_schedule
from transfers.routing import CallerCircumstances, ServiceOption, rank_services

OFFICE = parse_schedule([{"days": "weekdays", "opens": "09:00", "closes": "17:00"}])
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MONDAY_21 = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)


def svc(
    id,
    name,
    needs=(),
    *,
    status="active",
    ages=(None, None),
    areas=(),
    schedule=OFFICE,
    capacity=20,
    waiting=0,
    live=None,
    team=None,
):
    return ServiceOption(
        id,
        name,
        f"Org {id}",
        status,
        frozenset(needs),
        ages[0],
        ages[1],
        frozenset(areas),
        schedule,
        "Europe/London",
        capacity,
        waiting,
        live,
        team,
    )


TEAMS = [
    svc(90, "Mendip team", schedule=always_open(), capacity=None, team="mendip", live="+441823000201"),
    svc(91, "Sedgemoor team", schedule=always_open(), capacity=None, team="sedgemoor"),
]


def caller(needs, age=30, locality="mendip", urgent=False):
    return CallerCircumstances(frozenset(needs), age, locality, urgent)


def names(result):
    return [s.name for s in result]


@pytest.mark.parametrize(
    "service,who,included",
    [
        (svc(1, "Money", ["money"], ages=(18, None)), caller(["money"], age=17), False),
        (svc(1, "Money", ["money"], ages=(18, None)), caller(["money"], age=18), True),
        (svc(1, "Young", ["anxiety"], ages=(11, 25)), caller(["anxiety"], age=26), False),
        (svc(1, "Money", ["money"]), caller(["money"], age=None), True),  # unknown age is not a bar
        (svc(1, "Balsam", ["loneliness"], areas=["south-somerset"]), caller(["loneliness"]), False),
        (svc(1, "Balsam", ["loneliness"], areas=["mendip"]), caller(["loneliness"]), True),
        (svc(1, "Money", ["money"], status="inactive"), caller(["money"]), False),
        (svc(1, "Money", ["money"], status="temporarily closed"), caller(["money"]), False),
        (svc(1, "Housing", ["housing"]), caller(["money"]), False),
    ],
)
def test_eligibility(service, who, included):
    result = rank_services(who, [service, *TEAMS], MONDAY_10)
    assert (
        "Money" in names(result) or "Young" in names(result) or "Balsam" in names(result) or "Housing" in names(result)
    ) is included
    assert result[-1].name == "Mendip team" and result[-1].fallback


def test_more_needs_met_ranks_first_and_reasons_say_why():
    services = [svc(1, "Money only", ["money"]), svc(2, "Money and housing", ["money", "housing"], waiting=3), *TEAMS]
    result = rank_services(caller(["money", "housing"]), services, MONDAY_10)
    assert names(result) == ["Money and housing", "Money only", "Mendip team"]
    assert result[0].reasons[:3] == ("meets housing and money", "3 waiting of capacity 20", "open now until 17:00")
    assert [s.rank for s in result] == [1, 2, 3]


def test_a_full_service_ranks_after_one_with_room():
    services = [
        svc(1, "Full", ["money"], capacity=5, waiting=5),
        svc(2, "Room", ["money"], capacity=5, waiting=4),
        *TEAMS,
    ]
    result = rank_services(caller(["money"]), services, MONDAY_10)
    assert names(result)[:2] == ["Room", "Full"] and "5 waiting of capacity 5 (full)" in result[1].reasons


def test_urgent_callers_go_to_an_open_service_first():
    evening = parse_schedule([{"days": "daily", "opens": "12:00", "closes": "24:00"}])
    services = [
        svc(1, "A office", ["crisis"]),
        svc(2, "B evening", ["crisis"], schedule=evening, waiting=10, live="+441823000101"),
        *TEAMS,
    ]
    urgent = rank_services(caller(["crisis"], urgent=True), services, MONDAY_21)
    assert names(urgent)[0] == "B evening" and urgent[0].live_transfer_possible
    assert "closed now: opens tomorrow 9:00" in urgent[1].reasons


def test_locality_team_is_last_once_even_when_it_matches():
    team = svc(90, "Mendip team", ["money"], schedule=always_open(), capacity=None, team="mendip")
    result = rank_services(caller(["money"]), [team, svc(1, "Money", ["money"]), TEAMS[1]], MONDAY_10)
    assert names(result) == ["Money", "Mendip team"]


def test_never_empty_and_unknown_locality_offers_every_team():
    assert names(rank_services(caller(["eating"]), TEAMS, MONDAY_10)) == ["Mendip team"]
    unknown = rank_services(caller(["eating"], locality=None), TEAMS, MONDAY_10)
    assert names(unknown) == ["Mendip team", "Sedgemoor team"] and all(s.fallback for s in unknown)


def test_no_locality_team_at_all_is_a_data_error():
    with pytest.raises(ValueError, match="locality team"):
        rank_services(caller(["money"]), [svc(1, "Money", ["money"])], MONDAY_10)


def test_ranking_is_deterministic_whatever_the_input_order():
    services = [svc(i, f"Service {i % 3}", ["money"], waiting=i % 4) for i in range(1, 12)] + TEAMS
    expected = [s.service_id for s in rank_services(caller(["money"]), services, MONDAY_10)]
    for seed in range(5):
        shuffled = services[:]
        random.Random(seed).shuffle(shuffled)
        assert [s.service_id for s in rank_services(caller(["money"]), shuffled, MONDAY_10)] == expected


PAUSED = Availability(state="paused", note="staff training")


def test_paused_or_closed_leaves_a_service_out_but_at_capacity_keeps_it_lower_and_never_the_last_resort():
    money = svc(1, "Money advice", ["money"], schedule=always_open())
    debt = svc(2, "Debt line", ["money"], schedule=always_open())
    full = replace(debt, id=3, name="Full line", availability=Availability(spaces=0))
    closed = replace(
        debt,
        id=4,
        name="Closed line",
        availability=Availability(closures=(Closure(date(2026, 11, 23), date(2026, 11, 24)),)),
    )
    ranked = rank_services(
        caller(["money"]), [replace(money, availability=PAUSED), debt, full, closed, *TEAMS], MONDAY_10
    )
    # At capacity is not out: it can still be chosen, below the one with room, and says so.
    assert names(ranked) == ["Debt line", "Full line", "Mendip team"]
    assert ranked[1].available and ranked[1].at_capacity
    assert ranked[1].capacity_words[0] == "at capacity — can still be chosen"

    # The caller's own team paused: the other team is the last resort, and says nothing odd.
    teams = [replace(TEAMS[0], availability=PAUSED), TEAMS[1]]
    ranked = rank_services(caller(["money"]), [debt, *teams], MONDAY_10)
    assert names(ranked) == ["Debt line", "Sedgemoor team"] and ranked[-1].available

    # Every team out: still offered last (no wrong door), marked unavailable with the reason.
    teams = [replace(t, availability=PAUSED) for t in TEAMS]
    last = rank_services(caller(["money"]), teams, MONDAY_10)[-1]
    assert last.name == "Mendip team" and last.available is False and last.live_transfer_possible is False
    assert last.reasons[0] == "unavailable now: paused by the partner (staff training)"
