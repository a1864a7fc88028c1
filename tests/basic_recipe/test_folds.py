"""The recipe's k-fold cross-validation on small data: when it is on, what it judges."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from _recipe import _config, _run

from deeprecipe.basic_recipe.folds import refit_pooled, resolve_folds
from deeprecipe.basic_recipe.loop import recipe
from deeprecipe.basic_recipe.readings import dev_noise
from deeprecipe.errors import DeepRecipeError
from deeprecipe.runs.config import DataConfig, SplitConfig
from deeprecipe.runs.prepare import prepare_data


def test_a_tiny_dev_set_is_flagged(tmp_path):
    config = dataclasses.replace(_config("moons", [8], 20),
                                 data=DataConfig(dataset="moons", n_samples=150))
    result, doc = _run(config, tmp_path / "run", max_rounds=1)
    (warning,) = doc["warnings"]
    assert "the dev set has 30 examples" in warning and "cross-validation" in warning
    # no targets given: a gap is a problem beyond twice the dev set's noise
    noise = 2 * dev_noise(doc["rounds"][0]["dev_error"], 30)
    assert doc["targets"] == {"avoidable_bias": pytest.approx(noise),
                              "variance": pytest.approx(noise)}
    assert f"warning: {warning}" in doc["narrative"] and result.warnings == [warning]


def test_cross_validation_judges_small_data_when_asked(tmp_path):
    config = dataclasses.replace(_config("moons", [8], 20),
                                 data=DataConfig(dataset="moons", n_samples=150))
    _, doc = _run(config, tmp_path / "run", max_rounds=2, folds=5)
    first, *later = doc["rounds"]
    m = first["evidence"]["n_dev"] + first["evidence"]["m_train"]
    assert first["evidence"]["n_judged"] == m == 120 and 0 <= first["evidence"]["cv_error"] <= 1
    assert later
    for r in later:  # judged example by example: the same pooled examples, paired
        pairs = r["evidence"]["paired"]
        spread = math.sqrt(pairs["fixed"] + pairs["broke"])
        assert r["evidence"]["noise_threshold"] == pytest.approx(spread / m)
        assert r["helped"] is (pairs["fixed"] - pairs["broke"] > spread)
        assert (r["evidence"]["cv_error"] - first["evidence"]["cv_error"]) * m == \
            pytest.approx(pairs["broke"] - pairs["fixed"])  # the counts are the errors' gap
        assert "cross-validated error" in r["narrative"]
        plural = "" if pairs["fixed"] == 1 else "s"
        assert f"{pairs['fixed']} example{plural} fixed, {pairs['broke']} broken" in \
            r["narrative"]


def test_small_dev_sets_are_cross_validated(tmp_path):
    """folds="auto" (the default): 5 folds under 1,000 dev examples, said in the narrative."""
    config = dataclasses.replace(_config("moons", [8], 20),
                                 data=DataConfig(dataset="moons", n_samples=150))
    result, doc = _run(config, tmp_path / "run", max_rounds=2, folds="auto")
    first = doc["rounds"][0]
    assert doc["folds"] == result.folds == 5 and first["evidence"]["n_judged"] == 120
    assert first["evidence"]["cv_error"] is not None
    assert doc["narrative"][0] == result.judged_by and "5-fold cross-validation" in \
        result.judged_by and "the dev set has 30 examples" in result.judged_by
    (warning,) = doc["warnings"]  # the tiny dev set is still flagged, without the advice
    assert "judged its changes by 5-fold cross-validation instead" in warning
    saved = json.loads((tmp_path / "run" / "rounds" / "recipe_args.json").read_text("utf-8"))
    assert saved["folds"] == "auto"  # what was asked: a resume resolves it the same way


def test_large_dev_sets_and_folds_1_use_the_dev_set(tmp_path):
    big = dataclasses.replace(_config("moons", [8], 3),
                              data=DataConfig(dataset="moons", n_samples=5000))
    result, doc = _run(big, tmp_path / "big", max_rounds=1, folds="auto")  # 1,000 dev rows
    assert result.folds is None and doc["judged_by"] == "" and \
        doc["rounds"][0]["evidence"]["cv_error"] is None
    small = dataclasses.replace(_config("moons", [8], 3),
                                data=DataConfig(dataset="moons", n_samples=150))
    result, doc = _run(small, tmp_path / "off", max_rounds=1, folds=1)
    assert result.folds is None and doc["rounds"][0]["evidence"]["n_judged"] == 30


def test_auto_folds_need_every_class_in_every_fold(tmp_path):
    """A class with fewer examples than folds: "auto" falls back to the dev set."""
    config = _config("digits", [8], 2)
    data = prepare_data(config, check_distribution=False)
    keep = np.flatnonzero(data.y_train != 9)[:300]
    rare = np.flatnonzero(data.y_train == 9)[:2]
    rows = np.sort(np.concatenate([keep, rare]))
    dev = np.flatnonzero(data.y_dev != 9)
    data = dataclasses.replace(data, X_train=data.X_train[rows], y_train=data.y_train[rows],
                               X_dev=data.X_dev[dev], y_dev=data.y_dev[dev])
    assert resolve_folds("auto", data) == (None, "")
    assert resolve_folds(3, data)[0] == 3 and resolve_folds(1, data) == (None, "")


def test_auto_folds_skip_a_small_dev_set_cut_from_big_data():
    config = dataclasses.replace(_config("moons", [8], 2), data=DataConfig(
        dataset="moons", n_samples=30_000), split=SplitConfig(dev=500, test=500))
    data = prepare_data(config, check_distribution=False)
    assert len(data.y_dev) == 500 and resolve_folds("auto", data) == (None, "")
    small = dataclasses.replace(data, X_train=data.X_train[:2000], y_train=data.y_train[:2000])
    assert resolve_folds("auto", small)[0] == 5


@pytest.mark.parametrize("folds", [0, -2, 2.5, "five", True])
def test_bad_folds_fail_early(folds, tmp_path):
    with pytest.raises(DeepRecipeError, match="folds must be 'auto', 1"):
        recipe(_config("digits", [2], 5), tmp_path / "x", folds=folds)
    assert not (tmp_path / "x").exists()


def test_with_folds_the_final_model_is_refit_on_train_and_dev(tmp_path):
    """The folds judged the config: the saved model is that config trained on the pooled
    train + dev rows for its epochs, bit for bit what refit_pooled gives; the metrics keep
    the round's train and dev errors and take the refit model's test error."""
    config = dataclasses.replace(_config("moons", [8], 20),
                                 data=DataConfig(dataset="moons", n_samples=150))
    result, doc = _run(config, tmp_path / "run", max_rounds=1, folds=5)
    net, _, data, metrics = refit_pooled(result.final_config)
    saved = result.result.network
    assert all(np.array_equal(saved.params[k], net.params[k]) for k in net.params)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text("utf-8"))
    assert summary["split"]["train"] == 120 and summary["epochs_run"] == 20
    assert summary["metrics"]["test_error"] == metrics["test_error"] == \
        result.result.metrics["test_error"]
    assert summary["metrics"]["refit"] == {"examples": 120, "epochs": 20,
                                           "train_error": metrics["train_error"]}
    first = doc["rounds"][0]
    assert summary["metrics"]["dev_error"] == first["dev_error"]  # what the recipe judged
    line = ("final model: round 1's config refit on the 120 pooled train + dev examples for "
            "20 epochs")
    assert any(n.startswith(line) for n in doc["narrative"])
    assert np.array_equal(data.y_train[:len(data.y_train) - len(data.y_dev)],
                          prepare_data(config, check_distribution=False).y_train)


def test_without_folds_the_final_model_is_the_rounds_own(tmp_path):
    config = dataclasses.replace(_config("moons", [8], 20),
                                 data=DataConfig(dataset="moons", n_samples=150))
    result, doc = _run(config, tmp_path / "run", max_rounds=1, folds=1)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text("utf-8"))
    assert "refit" not in summary["metrics"] and summary["split"]["train"] == 90
    assert not any(n.startswith("final model") for n in doc["narrative"])


def test_no_refit_when_one_more_training_does_not_fit_the_budget():
    from types import SimpleNamespace

    from deeprecipe.basic_recipe.budget import Budget
    from deeprecipe.basic_recipe.loop import _final_model
    from deeprecipe.basic_recipe.rounds import Model
    from deeprecipe.runs.build import fit

    config = dataclasses.replace(_config("moons", [8], 5),
                                 data=DataConfig(dataset="moons", n_samples=150))
    data = prepare_data(config, check_distribution=False)
    net, trainer = fit(config, data)
    acc = Model(2, config, net, trainer, {"test_error": 0.5}, seconds=60.0)
    state = SimpleNamespace(accepted=acc, folds=5, data=data, budget=Budget(5.0))
    got_net, got_trainer, got_data, metrics, line = _final_model(state)
    assert (got_net, got_trainer, got_data, metrics) == (net, trainer, data, acc.metrics)
    assert line == ("final model: round 2's own (no time left to refit it on the 120 pooled "
                    "train + dev examples)")
    state.budget = Budget(None)  # no budget: always refit
    refit_net, *_, metrics, line = _final_model(state)
    assert refit_net is not net and metrics["refit"]["examples"] == 120
    assert line.startswith("final model: round 2's config refit")
