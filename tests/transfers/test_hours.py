from datetime import UTC, datetime

import pytest

from transfers.hours import (
    add_open_hours,
    always_open,
    describe_next_opening,
    format_schedule,
    is_open,
    next_opening,
    parse_schedule,
)

TZ = "Europe/London"
OFFICE = parse_schedule([{"days": "weekdays", "opens": "09:00", "closes": "17:00"}])
LATE = parse_schedule(
    [
        {"days": "mon,wed,fri", "opens": "09:00", "closes": "17:00"},
        {"days": "tue,thu", "opens": "09:00", "closes": "20:00"},
    ]
)
EVENINGS = parse_schedule([{"days": "daily", "opens": "12:00", "closes": "24:00"}])


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "slots,at,expected",
    [
        (OFFICE, utc(2026, 11, 23, 10, 0), True),  # Monday 10:00 GMT
        (OFFICE, utc(2026, 11, 23, 17, 0), False),  # closes at 17:00 sharp
        (OFFICE, utc(2026, 11, 22, 12, 0), False),  # Sunday
        (LATE, utc(2026, 11, 24, 19, 30), True),  # Tuesday late opening
        (LATE, utc(2026, 11, 23, 19, 30), False),  # Monday is not late
        (EVENINGS, utc(2026, 11, 23, 23, 59), True),  # open until midnight
        (EVENINGS, utc(2026, 11, 24, 0, 30), False),
        (always_open(), utc(2026, 12, 25, 3, 0), True),
        (OFFICE, utc(2026, 7, 6, 8, 30), True),  # BST: 09:30 local
        (OFFICE, utc(2026, 7, 6, 16, 30), False),  # BST: 17:30 local
    ],
)
def test_is_open(slots, at, expected):
    assert is_open(slots, TZ, at) is expected


@pytest.mark.parametrize(
    "start,hours,expected",
    [
        (utc(2026, 11, 20, 16, 0), 4, utc(2026, 11, 23, 12, 0)),  # Friday 16:00 + 4 open hours = Monday 12:00
        (utc(2026, 11, 21, 10, 0), 1, utc(2026, 11, 23, 10, 0)),  # Saturday: counting starts Monday 9:00
        (utc(2026, 11, 23, 9, 0), 16, utc(2026, 11, 24, 17, 0)),  # two full days
        (utc(2026, 3, 27, 16, 0), 2, utc(2026, 3, 30, 9, 0)),  # across the clocks going forward (10:00 BST)
    ],
)
def test_targets_count_only_opening_hours(start, hours, expected):
    assert add_open_hours(OFFICE, TZ, start, hours) == expected


def test_round_the_clock_and_unscheduled_targets_just_run():
    start = utc(2026, 11, 21, 22, 0)
    assert add_open_hours(always_open(), TZ, start, 30) == utc(2026, 11, 23, 4, 0)
    assert add_open_hours((), TZ, start, 2) == utc(2026, 11, 22, 0, 0)


def test_next_opening():
    assert next_opening(OFFICE, TZ, utc(2026, 11, 23, 10, 0)) == utc(2026, 11, 23, 10, 0)
    assert next_opening(OFFICE, TZ, utc(2026, 11, 21, 10, 0)) == utc(2026, 11, 23, 9, 0)
    assert next_opening((), TZ, utc(2026, 11, 21, 10, 0)) is None


@pytest.mark.parametrize(
    "slots,now,text",
    [
        (OFFICE, utc(2026, 11, 23, 10, 0), "open now until 17:00"),
        (OFFICE, utc(2026, 11, 23, 18, 0), "closed now: opens tomorrow 9:00"),
        (OFFICE, utc(2026, 11, 20, 18, 0), "closed now: opens Monday 9:00"),
        (OFFICE, utc(2026, 11, 23, 7, 0), "closed now: opens today 9:00"),
        (EVENINGS, utc(2026, 11, 23, 20, 0), "open now until midnight"),
        (always_open(), utc(2026, 11, 23, 3, 0), "open 24 hours"),
    ],
)
def test_describe(slots, now, text):
    assert describe_next_opening(slots, TZ, now) == text


@pytest.mark.parametrize(
    "item,message",
    [
        ({"days": "funday", "opens": "09:00", "closes": "17:00"}, "unknown day"),
        ({"days": "mon", "opens": "9am", "closes": "17:00"}, "bad time"),
        ({"days": "mon", "opens": "17:00", "closes": "09:00"}, "backwards"),
    ],
)
def test_bad_schedules_are_refused(item, message):
    with pytest.raises(ValueError, match=message):
        parse_schedule([item])


def test_format_round_trips():
    items = [
        {"days": "weekdays", "opens": "09:00", "closes": "17:00"},
        {"days": "tue,thu", "opens": "09:00", "closes": "20:00"},
        {"days": "daily", "opens": "12:00", "closes": "24:00"},
    ]
    assert format_schedule(parse_schedule(items)) == items
