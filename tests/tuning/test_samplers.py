"""Samplers, architectures as a space, checks before data, fingerprints, folds and budgets."""

from __future__ import annotations

import time

import pytest

from deeprecipe.errors import ConfigError
from deeprecipe.runs.budget import Deadline
from deeprecipe.runs.config import config_from_dict
from deeprecipe.tuning import Choice, LogUniform, tune
from deeprecipe.tuning.checks import check_search

TINY = {"data": {"dataset": "moons", "n_samples": 200}, "model": {"hidden_layer_sizes": [8]},
        "training": {"epochs": 4, "early_stopping": False}}
SPACE = {"learning_rate": LogUniform(1e-3, 1e-1),
         "hidden_layer_sizes": Choice(([4], [16, 8], [8, 8, 8]))}


def _config(data=None, split=None, **tuning):
    return config_from_dict({**TINY, "data": data or TINY["data"], "split": split or {},
                             "tuning": {"n_trials": 6, **tuning}})


def _params(result):
    return [t["params"] for t in result.trials]


def test_tpe_is_seeded_and_architectures_are_a_categorical_space(tmp_path):
    a = tune(_config(method="tpe"), run_dir=tmp_path / "a", space=SPACE, seed=2)
    b = tune(_config(method="tpe"), run_dir=tmp_path / "b", space=SPACE, seed=2)
    assert _params(a) == _params(b) and len(a.trials) == 6
    sizes = {tuple(p["hidden_layer_sizes"]) for p in _params(a)}
    assert sizes <= {(4,), (16, 8), (8, 8, 8)}
    assert a.best_config.model.hidden_layer_sizes == a.best["params"]["hidden_layer_sizes"]


def test_cmaes_runs_a_study(tmp_path):
    result = tune(_config(method="cmaes"), run_dir=tmp_path, space=SPACE, seed=0)
    assert len(result.completed) == 6 and result.to_dict()["method"] == "cmaes"


def test_a_bad_search_fails_before_any_data_is_read(tmp_path):
    missing = {"dataset": str(tmp_path / "no-such-file.npz")}  # loading it would fail
    bad = [({"space": {"learning_rate": {"dist": "choice", "values": [0.1]}}}, "choices"),
           ({"space": {"learnin_rate": {"dist": "uniform", "low": 0, "high": 1}}},
            "unknown hyperparameter 'learnin_rate'"),
           ({"space": {"hidden_layer_sizes": {"dist": "choice", "choices": [[0]]}}},
            "hidden_layer_sizes"),
           ({"method": "tpe", "rounds": 2}, "rounds = 2"),
           ({"method": "grid", "n_trials": 2, "space": {
               "batch_size": {"dist": "choice", "choices": [8, 16, 32]}}}, "n_trials >= 3")]
    for tuning, message in bad:
        start = time.perf_counter()
        with pytest.raises(ConfigError, match=message):
            tune(_config(data=missing, **tuning), run_dir=tmp_path / "s")
        assert time.perf_counter() - start < 1.0
    with pytest.raises(ConfigError, match="--prune does not combine with"):
        check_search(_config(split={"folds": 3}, prune="median"))


def test_the_study_remembers_its_data(tmp_path):
    tune(_config(), run_dir=tmp_path, space=SPACE, seed=0)
    other = _config(data={"dataset": "moons", "n_samples": 210})
    with pytest.raises(ConfigError, match="another configuration .*data.n_samples"):
        tune(other, run_dir=tmp_path, space=SPACE, seed=0)
    again = tune(_config(), run_dir=tmp_path, space=SPACE, seed=0)  # same: resumes, runs none
    assert again.extra["ran"] == 0 and len(again.trials) == 6


def test_cross_validated_trials_and_other_metrics(tmp_path):
    result = tune(_config(split={"folds": 3}, metric="dev_cost", n_trials=3),
                  run_dir=tmp_path, space=SPACE, seed=0)
    n_pool = 160  # moons 200: 40 test, train + dev pooled
    assert all(t["n_dev"] == n_pool for t in result.trials)
    assert all(t["value"] == pytest.approx(t["dev_cost"]) for t in result.trials)
    assert result.to_dict()["folds"] == 3 and result.to_dict()["metric"] == "dev_cost"
    with pytest.raises(ConfigError, match="metric"):
        config_from_dict({"tuning": {"metric": "accuracy"}})


class _After(Deadline):
    """A budget that runs out after ``n`` looks at the clock (deterministic on a busy box)."""

    def __init__(self, n: int) -> None:
        super().__init__(3600.0)
        self.n = n

    def remaining(self) -> float:
        self.n -= 1
        return 3600.0 if self.n >= 0 else 0.0


def test_a_budget_stops_the_search_cleanly_and_resumes(tmp_path):
    config = _config(n_trials=12)
    stopped = tune(config, run_dir=tmp_path, space=SPACE, seed=0, deadline=Deadline(0.0))
    assert stopped.extra["stopped"] == "budget" and stopped.trials == []
    some = tune(config, run_dir=tmp_path, space=SPACE, seed=0, deadline=_After(5))
    assert some.extra["stopped"] == "budget" and len(some.trials) == 5
    rest = tune(config, run_dir=tmp_path, space=SPACE, seed=0)
    assert rest.extra["ran"] == 7 and len(rest.completed) == 12 and rest.extra["stopped"] is None
    assert [t["index"] for t in rest.trials] == list(range(12))
