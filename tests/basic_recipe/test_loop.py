"""The automated basic recipe: high variance gets regularized, high bias gets a bigger network."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from pathlib import Path

import pytest
from _data import DATA, require

from deeprecipe.basic_recipe.loop import (
    BIAS_ACTIONS,
    VARIANCE_ACTIONS,
    RecipeResult,
    recipe,
    resume_recipe,
)
from deeprecipe.errors import DeepRecipeError, DivergenceError
from deeprecipe.optimize.callbacks import Callback
from deeprecipe.runs import build
from deeprecipe.runs.config import (
    Config,
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    SplitConfig,
    TrainingConfig,
    load_config,
)
from deeprecipe.runs.prepare import prepare_data

FOOTBALL = DATA / "football.npz"


def _config(dataset: str, hidden: list[int], epochs: int) -> Config:
    return Config(name="recipe-test", seed=0, data=DataConfig(dataset=dataset),
                  model=ModelConfig(hidden_layer_sizes=hidden),
                  optimizer=OptimizerConfig(name="adam", learning_rate=0.01),
                  training=TrainingConfig(epochs=epochs, batch_size="full",
                                          early_stopping=False))


def _run(config: Config, run_dir: Path, **kwargs) -> tuple[RecipeResult, dict]:
    data = prepare_data(config, check_distribution=False)  # the slow check is not under test
    result = recipe(config, run_dir, data=data, **kwargs)
    return result, json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def football(tmp_path_factory):
    """The lecture's football net (20-3-1, no regularization, Adam, trained long): overfits.

    As in the lecture: trained on the file's 211 training points, compared on its 200 test
    points (dev-only mode: the file's test set is the dev set)."""
    require("football.npz")
    config = dataclasses.replace(_config(str(FOOTBALL), [20, 3], 2000),
                                 split=SplitConfig(dev_only=True))
    return _run(config, tmp_path_factory.mktemp("football") / "run", max_rounds=2)


@pytest.fixture(scope="module")
def digits_small(tmp_path_factory):
    """An under-sized network on digits ([2] hidden units, 20 epochs): underfits."""
    run_dir = tmp_path_factory.mktemp("digits") / "run"
    return (*_run(_config("digits", [2], 20), run_dir, max_rounds=3), run_dir)


def test_football_high_variance_is_regularized(football):
    _, doc = football
    first, second = doc["rounds"][:2]
    assert first["verdict"] == "high_variance"
    assert first["train_error"] <= 0.05 and first["dev_error"] - first["train_error"] > 0.02
    assert set(second["changes"]) == {"regularization.l2"}
    # lambda / m = 0.005 with m = 211, the file's training points
    assert second["changes"]["regularization.l2"] == {"from": 0.0, "to": pytest.approx(1.1)}
    assert second["variance"] < first["variance"]
    assert second["dev_error"] <= first["dev_error"]


def test_digits_high_bias_grows_the_network(digits_small):
    result, doc, _ = digits_small
    first, second = doc["rounds"][:2]
    assert first["verdict"] in ("high_bias", "high_bias_and_variance")
    change = second["changes"]["model.hidden_layer_sizes"]
    assert (sum(change["to"]) > sum(change["from"]) or len(change["to"]) > len(change["from"]))
    assert second["train_error"] < first["train_error"]
    assert second["avoidable_bias"] < first["avoidable_bias"]
    assert result.rounds[1].helped is True


def test_rounds_and_decisions_are_written(football, digits_small, tmp_path):
    for result, doc in (football, digits_small[:2]):
        assert set(doc) >= {"rounds", "narrative", "best_round", "final_config"}
        keys = {"round", "changes", "train_error", "dev_error", "test_error", "avoidable_bias",
                "variance", "verdict", "decision", "narrative"}
        for i, r in enumerate(doc["rounds"], start=1):
            assert keys <= set(r) and r["round"] == i
            assert r["narrative"].startswith(f"round {i}: train error ")
            assert (r["helped"] is None) == (i == 1)
            assert r["narrative"] in doc["narrative"]
        assert doc["rounds"][0]["changes"] == {}
        assert doc == json.loads(json.dumps(result.to_dict()))
        best = min(doc["rounds"], key=lambda r: r["dev_error"])
        assert doc["best_round"] == best["round"] == result.best_round
        assert result.result.metrics["dev_error"] == best["dev_error"]
    story = football[1]["narrative"][0]
    assert "high variance" in story and "added L2 λ=1.1" in story
    story = digits_small[1]["narrative"][0]
    assert "high bias" in story and "doubled hidden units [2] → [4]" in story
    assert football[1]["rounds"][-1]["decision"] == "stop: max_rounds=2 reached"


def test_best_model_is_saved_as_a_run(digits_small):
    result, doc, run_dir = digits_small
    for name in ("config.toml", "history.jsonl", "model.npz", "model.json", "diagnosis.json",
                 "summary.json", "recipe.json", "report.html"):
        assert (run_dir / name).is_file(), name
    best = doc["rounds"][doc["best_round"] - 1]
    diagnosis = json.loads((run_dir / "diagnosis.json").read_text(encoding="utf-8"))
    assert diagnosis["dev_error"] == pytest.approx(best["dev_error"])
    saved = load_config(run_dir / "config.toml")
    assert saved.model.hidden_layer_sizes == doc["final_config"]["model"]["hidden_layer_sizes"]
    assert saved == result.final_config


def test_same_seed_same_rounds(digits_small, tmp_path):
    _, first, _ = digits_small
    _, again = _run(_config("digits", [2], 20), tmp_path / "again", max_rounds=3)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in first["rounds"]]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in again["rounds"]] == strip


def test_a_step_that_did_not_help_is_not_repeated(tmp_path):
    require("football.npz")
    result, doc = _run(_config(str(FOOTBALL), [20, 3], 2000), tmp_path / "run", max_rounds=5)
    failed = set()
    for t in doc["tried"]:
        assert t["action"] in BIAS_ACTIONS + VARIANCE_ACTIONS
        assert t["action"] not in failed
        if not t["helped"]:
            failed.add(t["action"])
    assert failed, "this run is meant to try a step that does not help"
    assert len(doc["rounds"]) <= 5 and result.stop_reason


def test_existing_run_is_not_overwritten_without_force(tmp_path):
    config = _config("digits", [2], 5)
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text("precious\n", encoding="utf-8")
    with pytest.raises(DeepRecipeError, match="force"):
        recipe(config, run_dir, max_rounds=1)
    assert (run_dir / "config.toml").read_text(encoding="utf-8") == "precious\n"
    _, doc = _run(config, run_dir, max_rounds=1, force=True)
    assert len(doc["rounds"]) == 1
    assert (run_dir / "config.toml").read_text(encoding="utf-8") != "precious\n"


def test_time_budget_and_targets(tmp_path):
    config = _config("digits", [2], 5)
    _, doc = _run(config, tmp_path / "budget", max_rounds=5, time_budget=1e-6)
    assert len(doc["rounds"]) == 1 and doc["stop_reason"].startswith("time_budget")
    _, doc = _run(config, tmp_path / "lenient", bias_target=1.0, variance_target=1.0)
    assert doc["rounds"][0]["verdict"] == "ok" and len(doc["rounds"]) == 1
    assert doc["targets"] == {"avoidable_bias": 1.0, "variance": 1.0}
    assert doc["rounds"][0]["decision"] == "stop: both gaps are under the targets"


def test_a_diverging_round_counts_as_a_step_that_did_not_help(tmp_path, monkeypatch):
    import deeprecipe.basic_recipe.loop as module

    calls = []

    def fit(config, data, **kwargs):
        calls.append(config)
        if len(calls) == 2:
            raise DivergenceError("cost became nan at epoch 1")
        return real_fit(config, data, **kwargs)

    real_fit = module.fit
    monkeypatch.setattr(module, "fit", fit)
    result, doc = _run(_config("digits", [2], 20), tmp_path / "run", max_rounds=3)
    first, second, third = doc["rounds"]
    assert second["verdict"] == "diverged" and second["helped"] is False
    assert second["narrative"].startswith("round 2: training diverged → wider step diverged")
    assert third["changes"]["model.hidden_layer_sizes"] == {"from": [2], "to": [2, 2]}
    assert [t["helped"] for t in doc["tried"]][0] is False
    assert result.best_round != 2


@pytest.mark.parametrize("kwargs", [{"max_rounds": 0}, {"time_budget": 0.0},
                                    {"bias_target": 1.5}])
def test_bad_arguments_fail_early(kwargs, tmp_path):
    with pytest.raises(DeepRecipeError):
        recipe(_config("digits", [2], 5), tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


class _CtrlCAt(Callback):
    """Presses Ctrl-C (a real SIGINT to this process) at the end of one epoch."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer, record) -> None:
        if record["epoch"] == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


def test_an_interrupted_recipe_resumes_to_the_same_rounds(digits_small, tmp_path, monkeypatch):
    _, reference, _ = digits_small
    real, calls = build.make_trainer, []

    def ctrl_c_in_round_2(*args, **kwargs):
        trainer = real(*args, **kwargs)
        calls.append(trainer)
        if len(calls) == 2:
            trainer.callbacks.append(_CtrlCAt(epoch=5))
        return trainer

    monkeypatch.setattr(build, "make_trainer", ctrl_c_in_round_2)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt, match=f"round 2, .*deeprecipe resume {run_dir}"):
        _run(_config("digits", [2], 20), run_dir, max_rounds=3)
    monkeypatch.setattr(build, "make_trainer", real)
    saved = sorted(p.name for p in (run_dir / "rounds" / "02" / "checkpoints").glob("*.json"))
    assert saved[-1].startswith("epoch-0005")  # round 2 stopped after its 5th epoch
    assert not (run_dir / "recipe.json").exists()
    with pytest.raises(DeepRecipeError, match="holds rounds"):
        recipe(_config("digits", [2], 20), run_dir, max_rounds=3)  # not silently restarted

    resumed = resume_recipe(run_dir)
    doc = json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))
    assert [r["narrative"] for r in doc["rounds"]] == \
        [r["narrative"] for r in reference["rounds"]]
    assert doc["best_round"] == reference["best_round"]
    assert resumed.result.metrics == pytest.approx(reference["metrics"], rel=0, abs=0)
    with pytest.raises(DeepRecipeError, match="other config"):
        recipe(_config("digits", [4], 20), run_dir, max_rounds=3, resume=True)
