import math

import pytest

from app.board.erlang import assess, listeners_needed, probability_of_waiting


def test_the_textbook_check_from_the_standards():
    # 60 calls/h, 12-minute handle time, 80% within 20 s -> 16 listeners, SL ~0.817, occupancy 0.75; 23 with 30% shrinkage
    staffing, rota = listeners_needed(60, 12 * 60, 20, 0.80, shrinkage=0.30)
    assert staffing.listeners == 16
    assert staffing.service_level == pytest.approx(0.817, abs=0.002)
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
