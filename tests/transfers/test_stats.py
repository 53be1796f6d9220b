from datetime import UTC, datetime, timedelta

from transfers.tickets.stats import TicketTimes, measure_handovers

NOW = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


def ticket(created_days_ago, accept_hours=None, contact_hours=None, open_=False):
    created = NOW - timedelta(days=created_days_ago)
    return TicketTimes(
        created,
        accept_hours is not None and created + timedelta(hours=accept_hours) or None,
        contact_hours is not None and created + timedelta(hours=contact_hours) or None,
        open_,
    )


def test_time_to_accept_and_to_contact_over_tickets_that_got_there():
    figures = measure_handovers([ticket(10, 2, 70), ticket(9, 4, 74), ticket(8, 30), ticket(1, open_=True)], NOW)
    assert figures["to_accept"] == {"mean_hours": 12.0, "median_hours": 4.0, "median_seconds": 4 * 3600, "count": 3}
    assert figures["to_contact"] == {"mean_hours": 72.0, "median_hours": 72.0, "median_seconds": 72 * 3600, "count": 2}
    assert figures["longest_open_wait_hours"] == 24.0 and figures["open_past_four_weeks"] == 0


def test_open_tickets_past_four_weeks_are_counted_and_an_empty_line_has_no_figures():
    figures = measure_handovers([ticket(29, open_=True), ticket(27, open_=True), ticket(40, 1, 5)], NOW)
    assert figures["open_past_four_weeks"] == 1 and figures["longest_open_wait_hours"] == 29 * 24
    assert measure_handovers([], NOW) == {
        "to_accept": {"mean_hours": None, "median_hours": None, "median_seconds": None, "count": 0},
        "to_contact": {"mean_hours": None, "median_hours": None, "median_seconds": None, "count": 0},
        "longest_open_wait_hours": None,
        "longest_open_wait_seconds": None,
        "open_past_four_weeks": 0,
    }


def test_a_wait_of_minutes_keeps_its_minutes_in_seconds():
    # 0.1 h rounds the hours to nothing a board can show; the seconds keep the 6 minutes.
    figures = measure_handovers([ticket(1, accept_hours=0.1, open_=False)], NOW)
    assert figures["to_accept"]["median_hours"] == 0.1 and figures["to_accept"]["median_seconds"] == 360
