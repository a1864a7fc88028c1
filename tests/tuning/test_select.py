"""The best trial: ties within the dev set's noise go to the lower dev cost, then fewer weights."""

from __future__ import annotations

import pytest

from deeprecipe.errors import DeepRecipeError
from deeprecipe.tuning._select import best, noise, rank


def _t(i, value, cost, n_params=100, n_dev=33, state="COMPLETE"):
    return {"round": 1, "index": i, "state": state, "value": value, "dev_error": value,
            "dev_cost": cost, "n_params": n_params, "n_dev": n_dev}


def test_twelve_trials_at_zero_dev_error_tie_and_the_lowest_dev_cost_wins():
    trials = [_t(i, 0.0, 0.30 - 0.01 * i) for i in range(12)] + [_t(12, 1 / 33, 0.01)]
    assert best(trials)["index"] == 11  # not trial 0, which merely came first
    assert [t["index"] for t in rank(trials)][:3] == [11, 10, 9]


def test_differences_within_one_standard_error_are_ties_beyond_it_are_not():
    se = noise(0.10, 100)
    assert se == pytest.approx(0.03)
    trials = [_t(0, 0.10, 0.50, n_dev=100), _t(1, 0.12, 0.20, n_dev=100),
              _t(2, 0.14, 0.10, n_dev=100)]
    assert best(trials)["index"] == 1  # 0.12 is within 0.10 + 0.03; 0.14 is not
    assert [t["index"] for t in rank(trials)] == [1, 0, 2]


def test_equal_cost_goes_to_the_smaller_model_and_other_metrics_tie_only_when_equal():
    trials = [_t(0, 0.2, 0.4, n_params=900), _t(1, 0.2, 0.4, n_params=50)]
    assert best(trials)["index"] == 1
    costs = [_t(0, 0.30, 0.30), _t(1, 0.31, 0.31)]
    assert best(costs, "dev_cost")["index"] == 0
    assert best([_t(0, 0.3, 0.3, n_params=9), _t(1, 0.3, 0.3, n_params=5)],
                "dev_cost")["index"] == 1


def test_failed_and_pruned_trials_never_win():
    trials = [_t(0, 0.0, 0.0, state="PRUNED"), _t(1, None, None, state="FAIL"),
              _t(2, 0.4, 0.9)]
    assert best(trials)["index"] == 2
    with pytest.raises(DeepRecipeError, match="no trial of the study completed"):
        best(trials[:2])
