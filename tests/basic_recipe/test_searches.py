"""The recipe's random search over the architecture: its space, its draws, its pick."""

from __future__ import annotations

import math

import pytest

from deeprecipe.basic_recipe.searches import (
    architecture_search,
    architecture_space,
    picked_by_search,
    search_data,
)
from deeprecipe.runs.config import Config, DataConfig, ModelConfig, OptimizerConfig
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
