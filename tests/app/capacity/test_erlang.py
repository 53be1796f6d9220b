"""Erlang C and Erlang A against published figures."""

import math

import pytest

from app.capacity.erlang import (
    LINE_TARGETS,
    Targets,
    assess,
    assess_with_abandonment,
    listeners_for_targets,
    listeners_needed,
    probability_of_waiting,
    rota_size,
)


def test_the_textbook_check_from_the_standards():
    # The Erlang C check in the project's STANDARDS.md (the usual worked example): 60 calls/h,
    # 12-minute handle time, 80% within 20 s -> 16 listeners, SL ~0.817, occupancy 0.75; 23 with
    # 30% shrinkage. P(wait) and ASA recomputed here from the formula.
    staffing, rota = listeners_needed(60, 12 * 60, 20, 0.80, shrinkage=0.30)
    assert staffing.listeners == 16
    assert staffing.service_level == pytest.approx(0.8169, abs=0.0005)
    assert staffing.probability_of_waiting == pytest.approx(0.2046, abs=0.0005)
    assert staffing.average_speed_of_answer_seconds == pytest.approx(36.8, abs=0.1)
    assert staffing.occupancy == pytest.approx(0.75)
    assert rota == 23


def test_one_fewer_listener_misses_the_target():
    assert assess(60, 720, 15, 20).service_level < 0.80


def test_too_few_listeners_means_everyone_waits():
    assert probability_of_waiting(12, 12) == 1.0
    assert math.isinf(assess(60, 720, 12, 20).average_speed_of_answer_seconds)


def test_a_quiet_hour_needs_nobody():
    assert listeners_needed(0, 720, 20, 0.8)[1] == 0


def test_calls_that_took_no_time_need_one_listener_and_do_not_divide_by_zero():
    staffing, rota = listeners_needed(2, 0, 20, 0.8)
    assert (staffing.listeners, staffing.service_level, rota) == (1, 1.0, 1)
    assert listeners_for_targets(0, 720, 300).listeners == 0


@pytest.mark.parametrize(
    ("listeners", "shrinkage", "rota"), [(16, 0.30, 23), (14, 0.30, 20), (10, 0.0, 10), (7, 0.35, 11)]
)
def test_the_rota_allows_for_shrinkage(listeners, shrinkage, rota):
    assert rota_size(listeners, shrinkage) == rota


# pyworkforce's Erlang A guide (https://pyworkforce.rodrigo-arenas.com/stable/guide/erlanga):
# 100 contacts per 30 minutes, AHT 3 min, patience 5 min, 80% within 20 s -> 13 positions with
# SL 0.858, occupancy 0.750, abandonment 0.025, P(wait) 0.226, mean wait 0.125 min (over every
# caller: that library's "average_speed_of_answer"), and 19 positions with 30% shrinkage.
PYWORKFORCE = dict(calls_per_hour=200, handle_seconds=180, patience_seconds=300, answer_within_seconds=20)


def test_erlang_a_matches_the_published_example():
    staffing = assess_with_abandonment(listeners=13, **PYWORKFORCE)
    assert staffing.service_level == pytest.approx(0.858, abs=0.0006)
    assert staffing.occupancy == pytest.approx(0.750, abs=0.0006)
    assert staffing.abandonment == pytest.approx(0.025, abs=0.0006)
    assert staffing.probability_of_waiting == pytest.approx(0.226, abs=0.0006)
    assert staffing.average_wait_seconds == pytest.approx(0.125 * 60, abs=0.05)
    # Answered callers alone waited less: those who gave up took their waits with them.
    assert staffing.average_speed_of_answer_seconds < staffing.average_wait_seconds


def test_erlang_a_sizes_the_published_example():
    targets = Targets(
        average_speed_of_answer_seconds=20, answer_within_seconds=20, service_level=0.80, abandonment=0.05
    )
    staffing = listeners_for_targets(200, 180, 300, targets)
    assert staffing.listeners == 13
    assert rota_size(staffing.listeners, 0.30) == 19


@pytest.mark.parametrize("listeners", [14, 16, 18])
def test_endless_patience_is_erlang_c(listeners):
    patient = assess_with_abandonment(60, 720, 1e9, listeners, 20)
    erlang_c = assess(60, 720, listeners, 20)
    assert patient.service_level == pytest.approx(erlang_c.service_level, abs=1e-5)
    assert patient.probability_of_waiting == pytest.approx(erlang_c.probability_of_waiting, abs=1e-5)
    assert patient.average_speed_of_answer_seconds == pytest.approx(erlang_c.average_speed_of_answer_seconds, rel=1e-4)


def test_abandonment_agrees_with_littles_law_on_the_queue():
    # Two routes to the same number: callers who never reach a listener, and θ·E[queue]/λ.
    staffing = assess_with_abandonment(40, 900, 120, 9, 60)
    assert 0 < staffing.abandonment < 1
    assert staffing.average_wait_seconds == pytest.approx(staffing.abandonment * 120)


def test_erlang_a_survives_an_overloaded_hour():
    # More calls than listeners could ever take: Erlang C has no answer, Erlang A a bad one.
    staffing = assess_with_abandonment(60, 1200, 180, 5, 60)
    assert staffing.abandonment > 0.5
    assert staffing.service_level < 0.3


def test_callers_who_give_up_need_fewer_listeners_than_erlang_c_says():
    with_abandonment = listeners_for_targets(20, 1200, 300, LINE_TARGETS)
    without = listeners_for_targets(20, 1200, None, LINE_TARGETS)
    assert with_abandonment.listeners <= without.listeners
    assert LINE_TARGETS.met_by(with_abandonment)
    assert not LINE_TARGETS.met_by(assess_with_abandonment(20, 1200, 300, with_abandonment.listeners - 1, 60))
