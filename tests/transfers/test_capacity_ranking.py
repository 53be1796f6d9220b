"""Capacity in the suggestions, pure: places now, the maximum and the waiting-list band order
services that meet the caller's needs (the needs met always first), and the words a listener reads
beside each one (places, waiting list, how fresh; at capacity can still be chosen)."""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from transfers.availability import Availability, CapacityNow, describe_capacity
from transfers.hours import always_open, parse_schedule
from transfers.routing import CallerCircumstances, ServiceOption, rank_services

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
OFFICE = parse_schedule([{"days": "weekdays", "opens": "09:00", "closes": "17:00"}])
EVENINGS = parse_schedule([{"days": "daily", "opens": "18:00", "closes": "22:00"}])
TEAM = ServiceOption(90, "Mendip team", "Org 90", "active", frozenset(), None, None, frozenset(), always_open(),
                     "Europe/London", None, 0, None, "mendip")  # fmt: skip


def service(name, needs=("money",), *, places=None, maximum=None, waiting=0, band=None, schedule=OFFICE):
    return replace(
        TEAM,
        id=zlib.crc32(name.encode()) % 10_000 + 1,
        name=name,
        needs_met=frozenset(needs),
        schedule=schedule,
        capacity=maximum,
        waiting=waiting,
        locality_team_for=None,
        availability=Availability(spaces=places, waiting_list=band, capacity_updated_at=NOW - timedelta(hours=3)),
    )


def ranked(*services, needs=("money",), urgent=False):
    caller = CallerCircumstances(frozenset(needs), 30, "mendip", urgent)
    return [s.name for s in rank_services(caller, [*services, TEAM], NOW) if not s.fallback]


ROOM_SHORT = service("Room, short wait", places=2, band="under-a-week")


@pytest.mark.parametrize(
    "other,expected",
    [
        # Open with places and a short wait ranks above one at capacity, however it got there ...
        (service("No places", places=0, band="under-a-week"), ["Room, short wait", "No places"]),
        (service("Queue full", maximum=5, waiting=5), ["Room, short wait", "Queue full"]),
        # ... and above a long or middling wait, and above one that has said nothing of its wait.
        (service("Long wait", places=9, band="over-4-weeks"), ["Room, short wait", "Long wait"]),
        (service("Some wait", places=9, band="1-4-weeks"), ["Room, short wait", "Some wait"]),
        (service("Not said", places=9), ["Room, short wait", "Not said"]),
        # Open round the clock does not make up for a long list.
        (service("Always open, long wait", band="over-4-weeks", schedule=always_open()), ["Room, short wait", "Always open, long wait"]),
        # The needs met come first: meeting two of two beats room and a short wait.
        (service("Both needs, full", ("money", "housing"), places=0, band="over-4-weeks"), ["Both needs, full", "Room, short wait"]),
    ],
)  # fmt: skip
def test_room_and_a_short_wait_rank_first_after_the_needs_met(other, expected):
    needs = ("money", "housing")
    assert ranked(ROOM_SHORT, other, needs=needs) == expected
    assert ranked(other, ROOM_SHORT, needs=needs) == expected


@pytest.mark.parametrize(
    "bands,expected",
    [
        (["over-4-weeks", "1-4-weeks", "under-a-week"], ["under-a-week", "1-4-weeks", "over-4-weeks"]),
        ([None, "1-4-weeks", "under-a-week"], ["under-a-week", None, "1-4-weeks"]),
        (["over-4-weeks", None], [None, "over-4-weeks"]),
    ],
)
def test_the_waiting_list_orders_services_with_room_under_a_week_first(bands, expected):
    services = [service(f"S{i}", places=3, band=band) for i, band in enumerate(bands)]
    by_name = {s.name: s.availability.waiting_list for s in services}
    assert [by_name[name] for name in ranked(*services)] == expected


def test_the_waiting_list_outweighs_opening_hours_except_for_an_urgent_caller():
    # A queued warm transfer waits hours for the service to open; a waiting list waits weeks.
    evening_short = service("Evenings, short wait", places=3, band="under-a-week", schedule=EVENINGS)
    open_long = service("Open, longer wait", places=3, band="1-4-weeks")
    assert ranked(evening_short, open_long) == ["Evenings, short wait", "Open, longer wait"]
    assert ranked(evening_short, open_long, urgent=True) == ["Open, longer wait", "Evenings, short wait"]


def test_an_at_capacity_suggestion_says_it_can_still_be_chosen_and_is_still_available():
    caller = CallerCircumstances(frozenset({"money"}), 30, "mendip", False)
    [full, _team] = rank_services(caller, [service("No places", places=0, band="1-4-weeks"), TEAM], NOW)
    assert full.available and full.at_capacity and full.places == 0
    assert full.capacity_words == ("at capacity — can still be chosen", "waiting list 1–4 weeks", "updated 3 h ago")


def capacity(available=None, maximum=None, waiting=0, band=None, updated=NOW - timedelta(hours=3)):
    return CapacityNow(available, maximum, waiting, band, updated)


@pytest.mark.parametrize(
    "figures,words",
    [
        (capacity(2, 10, band="1-4-weeks"), ("2 places today", "waiting list 1–4 weeks", "updated 3 h ago")),
        (capacity(1), ("1 place today", "updated 3 h ago")),
        (capacity(0), ("at capacity — can still be chosen", "updated 3 h ago")),
        (capacity(band="under-a-week", updated=NOW - timedelta(minutes=20)), ("waiting list under a week", "updated 20 min ago")),
        (capacity(band="over-4-weeks", updated=NOW), ("waiting list longer than 4 weeks", "updated just now")),
        # Not confirmed for a day: stale, and the listener is told.
        (capacity(4, updated=NOW - timedelta(days=1)), ("4 places today", "updated 1 day ago — may be out of date")),
        (capacity(4, updated=NOW - timedelta(days=3)), ("4 places today", "updated 3 days ago — may be out of date")),
        (capacity(4, updated=None), ("4 places today", "never confirmed by the partner — may be out of date")),
        # A maximum alone is a standing figure: nothing to say until the queue reaches it.
        (capacity(maximum=5, waiting=4, updated=None), ()),
        (capacity(maximum=5, waiting=5, updated=None), ("at capacity — can still be chosen",)),
        (capacity(), ()),
    ],
)  # fmt: skip
def test_what_the_listener_reads_beside_a_suggestion(figures, words):
    assert describe_capacity(figures, NOW) == words
