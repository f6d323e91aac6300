"""KPI scoring: achievement per measure type, 1..5 scores, weighted and overall ratings."""

from __future__ import annotations

import pytest

from engine.scripts.sandbox import ScriptError, make_script_engine, script_context
from engine.scripts.scoring import (
    average_rating,
    band_limits,
    kpi_achievement,
    kpi_score,
    overall_rating,
    rating_gap,
    rating_level,
    weighted_score,
)


def objective(**fields) -> dict:
    return {"measure_type": "higher_is_better", **fields}


# --------------------------------------------------------------------------- kpi_achievement


def test_higher_is_better_is_actual_over_target():
    assert kpi_achievement(objective(actual=90, target=100)) == 90.0
    assert kpi_achievement(objective(actual=1, target=3)) == 33.33


def test_measure_type_defaults_to_higher_is_better():
    assert kpi_achievement({"actual": 45, "target": 50}) == 90.0


def test_baseline_counts_progress_from_where_the_kpi_started():
    # From 40 % to a target of 60 %: reaching 55 % is three quarters of the way.
    assert kpi_achievement(objective(baseline=40, target=60, actual=55)) == 75.0


def test_negative_baseline_measures_the_distance_covered():
    # An operating loss of -200 to break-even at +100: reaching -50 is half the way.
    assert kpi_achievement(objective(baseline=-200, target=100, actual=-50)) == 50.0


def test_falling_below_the_baseline_scores_zero_not_negative():
    assert kpi_achievement(objective(baseline=50, target=80, actual=30)) == 0.0


def test_achievement_is_capped_at_150_by_default():
    assert kpi_achievement(objective(actual=500, target=100)) == 150.0


def test_cap_is_configurable():
    assert kpi_achievement(objective(actual=500, target=100), cap=120) == 120.0
    assert kpi_achievement(objective(actual=500, target=100), cap=1000) == 500.0


def test_zero_target_higher_is_better_is_met_or_missed_without_dividing():
    assert kpi_achievement(objective(target=0, actual=0)) == 100.0
    assert kpi_achievement(objective(target=0, actual=3)) == 100.0
    assert kpi_achievement(objective(target=0, actual=-1)) == 0.0


def test_baseline_equal_to_target_is_met_or_missed():
    assert kpi_achievement(objective(baseline=5, target=5, actual=6)) == 100.0
    assert kpi_achievement(objective(baseline=5, target=5, actual=4)) == 0.0


def test_lower_is_better_without_baseline_is_the_inverse_ratio():
    assert kpi_achievement(objective(measure_type="lower_is_better", target=4, actual=5)) == 80.0
    assert kpi_achievement(objective(measure_type="lower_is_better", target=4, actual=2)) == 150.0


def test_lower_is_better_with_baseline_counts_the_reduction():
    # Escaped defects from 12 down to a target of 4; reaching 6 is three quarters.
    defects = objective(measure_type="lower_is_better", baseline=12, target=4, actual=6)
    assert kpi_achievement(defects) == 75.0


def test_lower_is_better_zero_target_and_zero_actual():
    zero_incidents = objective(measure_type="lower_is_better", target=0)
    assert kpi_achievement({**zero_incidents, "actual": 0}) == 100.0
    assert kpi_achievement({**zero_incidents, "actual": 2}) == 0.0


def test_lower_is_better_reaching_zero_against_a_positive_target_gets_the_cap():
    assert kpi_achievement(objective(measure_type="lower_is_better", target=3, actual=0)) == 150.0


def test_target_band_inside_is_full_achievement():
    band = objective(measure_type="target_band", target_min=95, target_max=105)
    assert kpi_achievement({**band, "actual": 95}) == 100.0
    assert kpi_achievement({**band, "actual": 104.9}) == 100.0


def test_target_band_falls_off_on_both_sides():
    band = objective(measure_type="target_band", target_min=95, target_max=105)
    # 5 units outside a band around 100 is 5 % of the target: minus 10 points.
    assert kpi_achievement({**band, "actual": 110}) == 90.0
    assert kpi_achievement({**band, "actual": 90}) == 90.0
    assert kpi_achievement({**band, "actual": 400}) == 0.0


def test_target_band_from_target_and_tolerance_or_default_five_percent():
    assert band_limits({"target": 100, "tolerance": 2}) == (98.0, 102.0)
    assert band_limits({"target": 200}) == (190.0, 210.0)
    assert kpi_achievement(objective(measure_type="target_band", target=200, actual=209)) == 100.0


def test_target_band_around_zero_uses_the_half_width():
    variance = objective(measure_type="target_band", target_min=-2, target_max=2)
    assert kpi_achievement({**variance, "actual": 1}) == 100.0
    assert kpi_achievement({**variance, "actual": 2.2}) == 80.0


def test_missing_actual_is_none():
    assert kpi_achievement(objective(target=10)) is None
    assert kpi_achievement(objective(target=10, actual=None)) is None
    assert kpi_achievement(objective(target=10, actual="")) is None


def test_missing_target_is_none():
    assert kpi_achievement(objective(actual=10)) is None


def test_numeric_strings_from_forms_are_read_as_numbers():
    assert kpi_achievement(objective(actual="1,200", target="1000")) == 120.0


def test_unknown_measure_type_is_a_clear_error():
    with pytest.raises(ScriptError, match="unknown measure_type 'bigger'"):
        kpi_achievement(objective(measure_type="bigger", actual=1, target=1))


# --------------------------------------------------------------------------- kpi_score


@pytest.mark.parametrize(
    ("achievement", "score"),
    [(0, 1), (69.99, 1), (70, 2), (89.9, 2), (90, 3), (100, 3), (109.99, 3), (110, 4),
     (129.99, 4), (130, 5), (150, 5)],
)
def test_kpi_score_bands_on_the_five_point_scale(achievement, score):
    assert kpi_score(achievement) == score


def test_kpi_score_on_a_three_point_scale():
    assert [kpi_score(a, scale=3) for a in (50, 80, 100, 120, 140)] == [1, 2, 2, 3, 3]


def test_kpi_score_of_nothing_is_none():
    assert kpi_score(None) is None


# --------------------------------------------------------------------------- weighted_score


def test_weighted_score_weights_each_objective_score():
    objectives = [
        objective(actual=100, target=100, weight=60),  # 100 % -> 3
        objective(actual=140, target=100, weight=40),  # 140 % -> 5
    ]
    assert weighted_score(objectives) == 3.8


def test_weighted_score_skips_missing_actuals_and_renormalises():
    objectives = [
        objective(actual=100, target=100, weight=50),  # 3
        objective(target=100, weight=30),  # no actual yet
        objective(actual=60, target=100, weight=20),  # 1
    ]
    assert weighted_score(objectives) == pytest.approx((3 * 50 + 1 * 20) / 70, abs=0.01)


def test_weighted_score_with_weights_not_summing_to_100():
    objectives = [
        objective(actual=130, target=100, weight=1),  # 5
        objective(actual=95, target=100, weight=3),  # 3
    ]
    assert weighted_score(objectives) == 3.5


def test_weighted_score_without_weights_is_the_plain_mean():
    assert weighted_score([objective(actual=130, target=100), objective(actual=50, target=100)]) \
        == 3.0


def test_weighted_score_prefers_a_stored_kpi_score():
    assert weighted_score([{"kpi_score": 4, "weight": 100, "actual": 1, "target": 100}]) == 4.0


def test_weighted_score_of_nothing_scored_is_none():
    assert weighted_score([objective(target=100, weight=100)]) is None
    assert weighted_score([]) is None
    assert weighted_score(None) is None
    assert weighted_score([objective(actual=100, target=100, weight=0)]) is None


# --------------------------------------------------------------------------- ratings


def test_overall_rating_blends_kpi_and_competencies():
    assert overall_rating(4.0, 3.0) == 3.7
    assert overall_rating(4.0, 3.0, kpi_weight=0.5) == 3.5
    assert overall_rating(4.0, 3.0, kpi_weight=50) == 3.5


def test_overall_rating_uses_whichever_part_exists():
    assert overall_rating(None, 3.25) == 3.25
    assert overall_rating(4.2, None) == 4.2
    assert overall_rating(None, None) is None


def test_overall_rating_refuses_a_nonsense_weight():
    with pytest.raises(ScriptError, match="kpi_weight"):
        overall_rating(3, 3, kpi_weight=-1)


def test_rating_level_rounds_half_up_within_the_scale():
    assert [rating_level(x) for x in (1.49, 2.5, 3.5, 4.6, 0.2, 7)] == [1, 3, 4, 5, 1, 5]
    assert rating_level(None) is None


def test_average_rating_of_competency_ratings():
    assert average_rating({"communication": 4, "collaboration": 3, "delivery": None}) == 3.5
    assert average_rating([5, 4, 4]) == 4.33
    assert average_rating({}) is None


def test_rating_gap_is_symmetric_and_none_when_missing():
    assert rating_gap(2.0, 3.75) == 1.75
    assert rating_gap(3.75, 2.0) == 1.75
    assert rating_gap(None, 3) is None


# --------------------------------------------------------------------------- from scripts


def test_scoring_functions_run_inside_a_bpmn_script():
    data = {
        "objectives": [
            {"measure_type": "lower_is_better", "baseline": 12, "target": 4, "actual": 4,
             "weight": 50},
            {"measure_type": "higher_is_better", "target": 10, "actual": 14, "weight": 50},
        ]
    }
    script = (
        "for o in objectives:\n"
        "    o['achievement'] = kpi_achievement(o)\n"
        "    o['kpi_score'] = kpi_score(o['achievement'])\n"
        "kpi_result = weighted_score(objectives)\n"
        "proposed = rating_level(overall_rating(kpi_result, 3))\n"
    )
    with script_context(directory=None, catalogs={}, now=None, mocks={}):
        make_script_engine().environment.execute(script, data)
    assert [o["kpi_score"] for o in data["objectives"]] == [3, 5]
    assert data["kpi_result"] == 4.0
    assert data["proposed"] == 4
