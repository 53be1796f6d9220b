"""The report's pure parts, table-driven: percentiles from a histogram, shares and what they
reveal, suppression, the date range, and the charts' markup."""

from __future__ import annotations

from datetime import UTC, date, datetime
from xml.etree import ElementTree

import pytest

from app.core.errors import Unprocessable
from app.reports.figures import Figure, nearest_rank, share, shown, spread
from app.reports.periods import Period, choose_period, parse_day
from app.reports.svg import draw_chart
from app.reports.tables import Table

NOW = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("histogram", "p", "expected"),
    [
        ([(10, 1), (30, 1), (40, 1), (120, 1)], 0.5, 30),
        ([(10, 1), (30, 1), (40, 1), (120, 1)], 0.9, 120),
        ([(5, 9), (500, 1)], 0.9, 5),
        ([(5, 8), (500, 2)], 0.9, 500),
        ([(7, 1)], 0.5, 7),
        ([], 0.5, None),
    ],
)
def test_nearest_rank(histogram, p, expected):
    assert nearest_rank(histogram, p) == expected


def test_spread_of_a_histogram():
    s = spread([(5, 1), (15, 1), (25, 1), (50, 1), (90, 1), (None, 3)])
    assert (s.count, s.mean, s.median, s.p90, s.longest) == (5, 37.0, 25, 90, 90)
    assert spread([]).count == 0 and spread([]).mean is None


@pytest.mark.parametrize(
    ("part", "whole", "value", "base"),
    [
        (5, 10, 50.0, 5),
        (2, 10, 20.0, 2),
        (98, 100, 98.0, 2),  # 98% of 100 tells that 2 were not
        (0, 100, 0.0, 100),
        (0, 3, 0.0, 3),
        (0, 0, None, 0),
    ],
)
def test_share_rests_on_what_it_reveals(part, whole, value, base):
    assert share(part, whole) == Figure(value, base)


@pytest.mark.parametrize(
    ("figure", "exact", "expected"),
    [
        (Figure.count(0), False, 0),
        (Figure.count(1), False, "<5"),
        (Figure.count(4), False, "<5"),
        (Figure.count(5), False, 5),
        (Figure.count(4), True, 4),
        (Figure(12.5, 3), False, "<5"),
        (Figure(None, 0), False, None),
        ("Monday", False, "Monday"),
    ],
)
def test_suppression(figure, exact, expected):
    assert shown(figure, exact=exact) == expected


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (None, None, Period(date(2026, 11, 17), date(2026, 11, 23))),
        ("16/11/2026", "22/11/2026", Period(date(2026, 11, 16), date(2026, 11, 22))),
        ("2026-11-16", "2026-11-16", Period(date(2026, 11, 16), date(2026, 11, 16))),
        (None, "01/11/2026", Period(date(2026, 10, 26), date(2026, 11, 1))),
        ("1/3/2026", "3/3/2026", Period(date(2026, 3, 1), date(2026, 3, 3))),
    ],
)
def test_choose_period(first, last, expected):
    assert choose_period(first, last, NOW) == expected


def test_a_period_is_bounded_by_local_midnights_and_has_one_before_it():
    summer = Period(date(2026, 7, 13), date(2026, 7, 19))
    assert summer.start == datetime(2026, 7, 12, 23, 0, tzinfo=UTC)
    assert summer.end == datetime(2026, 7, 19, 23, 0, tzinfo=UTC)
    assert summer.before() == Period(date(2026, 7, 6), date(2026, 7, 12))
    # The clocks go back on 25 October: that day has 25 hours.
    autumn = Period(date(2026, 10, 25), date(2026, 10, 25))
    assert (autumn.end - autumn.start).total_seconds() == 25 * 3600


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("22/11/2026", "16/11/2026", "from"),
        ("01/01/2025", "16/11/2026", "to"),
        ("32/01/2026", None, "from"),
        (None, "soon", "to"),
        ("1999-12-31", None, "from"),
        (None, "2101-01-01", "to"),
    ],
)
def test_bad_ranges_name_their_field(first, last, field):
    with pytest.raises(Unprocessable) as raised:
        choose_period(first, last, NOW)
    assert [item["field"] for item in raised.value.detail] == [field]


def test_parse_day_reads_blank_as_none():
    assert parse_day("  ", "from") is None


def _svg(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(markup)


def test_bars_are_well_formed_name_themselves_and_mark_suppressed_values():
    table = Table(
        "repeat-callers", "Repeat <callers>", ["figure", "this period", "period before"], [], value_columns=(1, 2)
    )
    svg = _svg(draw_chart(table, [["Callers & friends", 10, "<5"], ["None", None, None]]))
    assert svg.get("role") == "img" and "Repeat <callers>" in svg.get("aria-label")
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "Callers & friends" in texts and "10" in texts and "<5" in texts
    assert "None" not in texts  # a row with nothing to draw is left out
    dashed = [r for r in svg.iter("{http://www.w3.org/2000/svg}rect") if r.get("stroke-dasharray")]
    assert len(dashed) == 1


def test_the_heatmaps_busiest_hour_is_the_hottest_cell():
    rows = [["Monday", *([1] * 24)]] + [[day, *([0] * 24)] for day in ("Tue", "Wed", "Thu", "Fri", "Sat", "Sun")]
    rows[2][1 + 20] = 30
    rows[2][1 + 21] = "<5"
    table = Table("hours", "Calls by hour", ["day", *(f"{h:02d}" for h in range(24))], [], chart="heatmap")
    svg = _svg(draw_chart(table, rows))
    cells = {
        r.find("{http://www.w3.org/2000/svg}title").text: r.get("fill")
        for r in svg.iter("{http://www.w3.org/2000/svg}rect")
        if r.find("{http://www.w3.org/2000/svg}title") is not None
    }
    assert len(cells) == 7 * 24
    assert cells["Wed 20:00 30"] == "#f0b429"
    assert cells["Wed 21:00 <5"] == "url(#few)"
    assert cells["Tue 03:00 0"] == "#1f2630"
