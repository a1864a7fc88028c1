"""The recipe's searches: the architecture's space, draws and pick; with the recipe's folds,
trials ranked by cross-validated error."""

from __future__ import annotations

import json
import math
import time

import pytest

from deeprecipe.basic_recipe import searches
from deeprecipe.basic_recipe.searches import (
    architecture_search,
    architecture_space,
    picked_by_search,
    regularization_search,
    search_data,
)
from deeprecipe.runs.config import (
    Config,
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    TrainingConfig,
)
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.tuning.caviar import Runner

CONFIG = Config(name="search", seed=0, data=DataConfig(dataset="digits"),
                model=ModelConfig(hidden_layer_sizes=[8]),
                optimizer=OptimizerConfig(learning_rate=0.01))


@pytest.fixture(scope="module")
def small():
    return search_data(prepare_data(CONFIG, check_distribution=False), 0)


def test_the_space_puts_each_hyperparameter_on_its_scale():
    space = architecture_space(CONFIG)
    assert space["learning_rate"].to_dict() == {"dist": "log_uniform", "low": 0.001,
                                                "high": 0.1}
    assert space["hidden_units"].to_dict()["dist"] == "int_uniform"
    assert space["hidden_units"].log and (space["hidden_units"].low,
                                          space["hidden_units"].high) == (16, 1024)
    assert space["keep_prob"].to_dict() == {"dist": "uniform", "low": 0.5, "high": 1.0}
    big = architecture_space(Config(optimizer=OptimizerConfig(learning_rate=0.5)))
    assert big["learning_rate"].high == 1.0  # α never above 1


def test_trials_are_drawn_from_the_space_with_the_unchanged_config_first(small, tmp_path):
    with Runner(1) as runner:
        found = architecture_search(runner, CONFIG, small, epochs=2, round_=3, seed=0,
                                    n_trials=4, cache=tmp_path / "search.json")
    trials = found["trials"]
    assert len(trials) == 5 and trials[0]["params"] == {}
    for t in trials[1:]:
        p = t["params"]
        assert 0.001 <= p["learning_rate"] <= 0.1 and 16 <= p["hidden_units"] <= 1024
        assert 1 <= p["n_layers"] <= 3 and 0.5 <= p["keep_prob"] <= 1.0
        assert t["status"] == "complete" and 0 <= t["dev_error"] <= 1
        assert t["dev_cost"] is not None and math.isfinite(t["dev_cost"])
    best = min(range(5), key=lambda i: (trials[i]["dev_error"], trials[i]["dev_cost"], i))
    if best == 0:
        assert found["picked"] == {}
    else:
        p = trials[best]["params"]
        assert found["picked"] == {"hidden_layer_sizes": [p["hidden_units"]] * p["n_layers"],
                                   "keep_prob": p["keep_prob"],
                                   "learning_rate": p["learning_rate"]}
    # the same seed and round: the same draws; the saved search is reused as it is
    with Runner(1) as runner:
        again = architecture_search(runner, CONFIG, small, epochs=2, round_=3, seed=0,
                                    n_trials=4, cache=tmp_path / "search.json")
        other = architecture_search(runner, CONFIG, small, epochs=1, round_=4, seed=0,
                                    n_trials=4)
    assert again == found
    assert [t["params"] for t in other["trials"]] != [t["params"] for t in trials]


def test_a_pick_becomes_a_change_of_knobs():
    found = {"picked": {"hidden_layer_sizes": [300, 300], "keep_prob": 0.6,
                        "learning_rate": 0.003}}
    config, changes, text = picked_by_search(CONFIG, found, "architecture picked")
    assert config.model.hidden_layer_sizes == [300, 300] and config.model.keep_prob == 0.6
    assert changes["model.hidden_layer_sizes"] == {"from": [8], "to": [300, 300]}
    assert text.startswith("architecture picked: ") and "[8] → [300, 300]" in text
    assert picked_by_search(CONFIG, {"picked": {}}, "x") is None


# ---- ranking by k-fold cross-validation (the recipe's folds) ---------------------------------

MOONS = Config(name="search-cv", seed=0, data=DataConfig(dataset="moons", n_samples=150),
               model=ModelConfig(hidden_layer_sizes=[8]),
               optimizer=OptimizerConfig(name="adam", learning_rate=0.01),
               training=TrainingConfig(epochs=20, batch_size="full", early_stopping=False))


@pytest.fixture(scope="module")
def moons():
    return search_data(prepare_data(MOONS, check_distribution=False), 0)


def _best(trials: list[dict], key: str, cost: str) -> int:
    ok = [i for i, t in enumerate(trials) if t.get(key) is not None]
    return min(ok, key=lambda i: (trials[i][key], trials[i][cost] or 0.0, i))


def _picked_trial(found: dict) -> int:
    if not found["picked"]:
        return 0
    (i,) = [i for i, t in enumerate(found["trials"]) if t["params"] and
            [t["params"]["hidden_units"]] * t["params"]["n_layers"] ==
            found["picked"]["hidden_layer_sizes"] and
            t["params"]["learning_rate"] == found["picked"]["learning_rate"]]
    return i


@pytest.fixture(scope="module")
def cv_search(moons, tmp_path_factory):
    path = tmp_path_factory.mktemp("cv") / "search.json"
    with Runner(1) as runner:
        found = architecture_search(runner, MOONS, moons, epochs=8, round_=2, seed=0,
                                    n_trials=6, folds=5, cache=path)
    return found, path


def test_with_folds_the_pick_is_the_lowest_cross_validated_error(cv_search):
    found, _ = cv_search
    trials = found["trials"]
    assert found["ranked_by"] == "cv_error" and found["folds"] == 5
    assert found["n_ranked"] == 120  # 120 pooled train + dev moons, each judged once
    # 120 pooled examples (at most _CV_ALL_POOLED): every complete trial is cross-validated
    assert all(0 <= t["cv_error"] <= 1 and math.isfinite(t["cv_cost"]) for t in trials)
    by_cv, by_dev = _best(trials, "cv_error", "cv_cost"), _best(trials, "dev_error", "dev_cost")
    assert by_cv != by_dev  # this case tells the two rankings apart
    assert _picked_trial(found) == by_cv
    m = found["n_ranked"]
    p = trials[by_cv]["cv_error"]
    assert found["threshold"] == pytest.approx(math.sqrt(p * (1 - p) / m))


def test_with_folds_only_the_best_on_dev_are_cross_validated_on_bigger_data(moons,
                                                                             monkeypatch):
    monkeypatch.setattr(searches, "_CV_ALL_POOLED", 100)  # 120 pooled: "bigger" data
    monkeypatch.setattr(searches, "_CV_TOP", 2)
    with Runner(1) as runner:
        found = architecture_search(runner, MOONS, moons, epochs=8, round_=2, seed=0,
                                    n_trials=6, folds=5)
    trials = found["trials"]
    top = sorted(range(len(trials)), key=lambda i: (trials[i]["dev_error"],
                                                    trials[i]["dev_cost"], i))[:2]
    assert sorted(i for i, t in enumerate(trials) if t["cv_error"] is not None) == sorted(top)
    assert found["ranked_by"] == "cv_error"
    assert _picked_trial(found) == _best(trials, "cv_error", "cv_cost")


def test_parallel_cross_validation_equals_serial(cv_search, moons):
    with Runner(2) as runner:
        parallel = architecture_search(runner, MOONS, moons, epochs=8, round_=2, seed=0,
                                       n_trials=6, folds=5)
    assert parallel == cv_search[0]


def test_a_resumed_search_reuses_the_saved_ranking(cv_search, moons):
    found, path = cv_search

    class NoTraining:
        workers, scheduler = 1, None

        def run(self, jobs):
            raise AssertionError("a saved search must not train again")

    again = architecture_search(NoTraining(), MOONS, moons, epochs=8, round_=2, seed=0,
                                n_trials=6, folds=5, cache=path)
    assert again == found == json.loads(path.read_text(encoding="utf-8"))


def test_a_search_saved_before_cross_validation_is_read_as_it_is(moons, tmp_path):
    old = {"name": "search", "epochs": 2, "space": {}, "picked": {}, "threshold": 0.05,
           "trials": [{"params": {}, "status": "complete", "dev_error": 0.1,
                       "train_error": 0.1, "dev_cost": 0.3, "final_cost": 0.3,
                       "error": None}]}
    (tmp_path / "search.json").write_text(json.dumps(old), encoding="utf-8")
    with Runner(1) as runner:
        found = architecture_search(runner, MOONS, moons, epochs=2, round_=2, seed=0,
                                    n_trials=6, folds=5, cache=tmp_path / "search.json")
    assert found == old and picked_by_search(MOONS, found, "x") is None


def test_without_folds_trials_are_ranked_by_dev_error(moons):
    with Runner(1) as runner:
        found = architecture_search(runner, MOONS, moons, epochs=8, round_=2, seed=0,
                                    n_trials=6, folds=None)
    trials = found["trials"]
    assert found["ranked_by"] == "dev_error" and "folds" not in found
    assert all("cv_error" not in t for t in trials)
    assert _picked_trial(found) == _best(trials, "dev_error", "dev_cost")


def test_the_deadline_stops_trials_and_cross_validation(moons):
    with Runner(1) as runner:  # past its deadline: the first trial only, then nothing
        found = architecture_search(runner, MOONS, moons, epochs=8, round_=2, seed=0,
                                    n_trials=6, folds=5,
                                    deadline=time.perf_counter() - 1.0)
    assert [t["status"] for t in found["trials"]] == ["complete"] + ["skipped"] * 6
    assert found["ranked_by"] == "dev_error" and found["picked"] == {}
    assert all(t.get("cv_error") is None for t in found["trials"])


def test_the_regularization_search_with_folds_keeps_the_lowest_cv_error(moons):
    m_full = len(moons.X_train)
    with Runner(1) as runner:
        found = regularization_search(runner, MOONS, moons, m_full, epochs=8, round_=2,
                                      folds=5)
    trials = found["trials"]
    assert found["ranked_by"] == "cv_error" and found["n_ranked"] == 120
    assert all(t["cv_error"] is not None for t in trials)
    best = min(t["cv_error"] for t in trials)
    ties = [i for i, t in enumerate(trials)
            if t["cv_error"] <= best + math.sqrt(best * (1 - best) / 120)]
    expected = trials[min(ties)]["params"]
    assert found["picked"] == ({} if min(ties) == 0 else
                               {k: (float(f"{v / len(moons.X_train) * m_full:.3g}")
                                    if k == "l2" else v) for k, v in expected.items()})
