"""A simulated week (SimPy) checks the model's rota against the line's own rules."""

import pytest
from typer.testing import CliRunner

from app.capacity.erlang import LINE_TARGETS
from app.capacity.simulate import rota_for, simulate_weeks, weekly_profile
from app.cli import cli

# Somerset's line (STANDARDS.md): about 650 calls a week, peak 8-10pm; handle about 20 minutes.
SOMERSET = weekly_profile(650)
HANDLE, PATIENCE = 20 * 60, 3 * 60
PEAK = [day * 24 + hour for day in range(7) for hour in (20, 21)]


def test_somersets_week_has_its_peak_in_the_evening():
    assert sum(SOMERSET) == pytest.approx(650)
    assert max(SOMERSET) == SOMERSET[20] == SOMERSET[21]
    assert sum(SOMERSET[i] for i in PEAK) / 650 > 0.25


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_models_rota_meets_the_targets_in_a_simulated_somerset_week(seed):
    rota = rota_for(SOMERSET, HANDLE, PATIENCE)
    week = simulate_weeks(SOMERSET, rota, handle_seconds=HANDLE, patience_seconds=PATIENCE, seed=seed).week
    assert 550 < week.offered < 750
    assert week.service_level >= LINE_TARGETS.service_level
    assert week.abandonment < LINE_TARGETS.abandonment
    assert week.average_speed_of_answer <= LINE_TARGETS.average_speed_of_answer_seconds


def test_the_same_seed_gives_the_same_week():
    rota = rota_for(SOMERSET, HANDLE, PATIENCE)
    first = simulate_weeks(SOMERSET, rota, handle_seconds=HANDLE, patience_seconds=PATIENCE, seed=7)
    again = simulate_weeks(SOMERSET, rota, handle_seconds=HANDLE, patience_seconds=PATIENCE, seed=7)
    other = simulate_weeks(SOMERSET, rota, handle_seconds=HANDLE, patience_seconds=PATIENCE, seed=8)
    assert first.hours == again.hours
    assert first.hours != other.hours


def test_a_rota_short_at_the_peak_misses_the_targets_there():
    rota = rota_for(SOMERSET, HANDLE, PATIENCE)
    short = [n - 3 if i in PEAK else n for i, n in enumerate(rota)]
    result = simulate_weeks(SOMERSET, short, handle_seconds=HANDLE, patience_seconds=PATIENCE, weeks=2, seed=1)
    peak_calls = sum(result.hours[i].offered for i in PEAK)
    peak_in_time = sum(result.hours[i].answered_in_time for i in PEAK)
    peak_gave_up = sum(result.hours[i].abandoned for i in PEAK)
    assert peak_in_time / peak_calls < LINE_TARGETS.service_level
    assert peak_gave_up / peak_calls >= LINE_TARGETS.abandonment


def test_callers_who_wait_too_long_reach_voicemail_and_are_rung_back():
    # One listener for a busy hour, patient callers: some wait past ten minutes.
    rates = [30.0] + [0.0] * 167
    result = simulate_weeks(
        rates, [1] * 168, handle_seconds=HANDLE, patience_seconds=3600, seed=1, max_wait_seconds=600
    )
    assert result.week.voicemail > 0
    assert result.callbacks_made + result.callbacks_left == result.week.voicemail
    assert result.callbacks_made > 0


def test_openline_simulate_week_prints_each_hour_and_the_week():
    output = CliRunner().invoke(cli, ["simulate", "week", "--seed", "3"])
    assert output.exit_code == 0, output.output
    lines = output.output.splitlines()
    assert len(lines) == 1 + 168 + 1
    assert lines[1].startswith("Mon 00:00") and lines[-2].startswith("Sun 23:00")
    assert lines[21].startswith("Mon 20:00")
    assert lines[-1].startswith("week: ") and "answered within 60 s" in lines[-1]
    again = CliRunner().invoke(cli, ["simulate", "week", "--seed", "3"])
    assert again.output == output.output
