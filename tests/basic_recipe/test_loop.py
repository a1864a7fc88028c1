"""The automated basic recipe: high variance gets regularized, high bias gets a bigger network."""

from __future__ import annotations

import dataclasses
import json
import os
import signal

import pytest
from _data import DATA
from _holder import busy, held_elsewhere
from _recipe import _config, _run

from deeprecipe.basic_recipe import rounds, steps
from deeprecipe.basic_recipe.loop import recipe, resume_recipe
from deeprecipe.basic_recipe.readings import READINGS, dev_noise, more_data_gain
from deeprecipe.errors import DeepRecipeError, DivergenceError
from deeprecipe.optimize.callbacks import Callback
from deeprecipe.runs import build
from deeprecipe.runs.config import (
    Config,
    TrainingConfig,
    load_config,
)
from deeprecipe.runs.locks import RunDirBusyError

FOOTBALL = DATA / "football.npz"


@pytest.fixture(scope="module")
def digits_small(tmp_path_factory):
    """An under-sized network on digits ([2] hidden units, 20 full-batch epochs): underfits."""
    run_dir = tmp_path_factory.mktemp("digits") / "run"
    return (*_run(_config("digits", [2], 20), run_dir, max_rounds=3), run_dir)


def test_digits_default_config_first_changes_the_learning_rate(tmp_path):
    """From the default config, α is searched first and the next step is not a bigger net."""
    config = Config(name="default")
    assert config.training.batch_size == 128 and config.training.early_stopping
    # a 1% variance target: digits' ~2% dev error then reads as variance, so the gain of more
    # data is estimated too
    _, doc = _run(config, tmp_path / "run", max_rounds=1, variance_target=0.01)
    (first,) = doc["rounds"]
    search = first["evidence"]["alpha_search"]
    lrs = [t["params"]["learning_rate"] for t in search["trials"]]
    assert sorted(lrs) == [0.0001, 0.000316, 0.001, 0.00316, 0.01]  # α x 10^k, k = -1 .. 1
    assert first["evidence"]["learning_rate"] == search["picked"] != 0.001
    assert "hidden" not in first["decision"] and "wider" not in first["decision"]
    assert first["reading"]["kind"] in READINGS
    assert first["verdict"] == "high_variance"  # so the gain of more data is estimated
    more, m = doc["more_data"], first["evidence"]["m_train"]
    assert more["sizes"] == [m // 2, m] and more["dev_errors"][1] == first["dev_error"]
    assert more["expected_gain_2x"] == pytest.approx(more_data_gain(more["sizes"],
                                                                    more["dev_errors"]))
    assert more["text"] in doc["narrative"]


def test_changes_are_kept_only_when_dev_error_beats_noise(digits_small):
    result, doc, _ = digits_small
    first, *later = doc["rounds"]
    n_dev = first["evidence"]["n_dev"]
    accepted = first
    for r in later:
        threshold = dev_noise(accepted["dev_error"], n_dev)
        assert r["evidence"]["noise_threshold"] == pytest.approx(threshold)
        kept = r["dev_error"] is not None and r["dev_error"] < accepted["dev_error"] - threshold
        assert r["helped"] is kept
        accepted = r if kept else accepted
    assert doc["best_round"] == accepted["round"] == result.best_round
    assert result.result.metrics["dev_error"] == accepted["dev_error"]
    assert [t["helped"] for t in doc["tried"]] == [r["helped"] for r in later]


def test_high_bias_steps_follow_the_curve(digits_small):
    _, doc, _ = digits_small
    first, second = doc["rounds"][:2]
    assert first["verdict"] in ("high_bias", "high_bias_and_variance")
    expected = "trained longer" if first["reading"]["kind"] == "not_converged" else "doubled"
    assert first["decision"].startswith(expected)
    assert second["changes"] and second["avoidable_bias"] < first["avoidable_bias"]


def test_bias_is_read_from_the_best_training_error(tmp_path):
    config = dataclasses.replace(_config("digits", [32], 60), training=TrainingConfig(
        epochs=60, batch_size=64, early_stopping=True, patience=3))
    _, doc = _run(config, tmp_path / "run", max_rounds=1)
    (first,) = doc["rounds"]
    lines = (tmp_path / "run" / "history.jsonl").read_text(encoding="utf-8").splitlines()
    epochs = [r for r in map(json.loads, lines) if r.get("type", "epoch") == "epoch"
              and "train_error" in r]
    assert first["avoidable_bias"] == pytest.approx(min(r["train_error"] for r in epochs))
    assert first["variance"] == pytest.approx(first["dev_error"] - first["avoidable_bias"])


def test_the_architecture_search_step_is_trained_and_judged_like_any_step(tmp_path,
                                                                          monkeypatch):
    """With the problem's own steps spent, a random search picks the next candidate."""
    monkeypatch.setattr(steps, "BIAS_ACTIONS", ())
    monkeypatch.setattr(steps, "VARIANCE_ACTIONS", ())
    monkeypatch.setattr(rounds, "ARCHITECTURE_TRIALS", 4)
    result, doc = _run(_config("digits", [4], 20), tmp_path / "run", max_rounds=2)
    first, second = doc["rounds"]
    search = second["evidence"]["architecture_search"]
    assert first["decision"].startswith("a random search over the architecture")
    assert [t["params"] for t in search["trials"]][0] == {} and len(search["trials"]) == 5
    picked = search["picked"]
    assert second["changes"]["model.hidden_layer_sizes"]["to"] == \
        picked["hidden_layer_sizes"] != [4]
    assert "alpha_search" not in second["evidence"]  # α was one of the searched dimensions
    assert second["evidence"]["learning_rate"] == picked["learning_rate"]
    assert doc["tried"][-1]["action"] == "search"
    assert (tmp_path / "run" / "rounds" / "02" / "search.json").is_file()
    assert doc["stop_reason"] in ("max_rounds=2 reached", "both gaps are under the targets")


@pytest.mark.parametrize("budget, searches", [(600.0, 3), (None, 1)])
def test_more_searches_spend_a_budget_the_steps_leave_unspent(tmp_path, monkeypatch, budget,
                                                              searches):
    """With half of a budget unspent, two more searches (fresh draws) follow a search that
    found nothing; without a budget the recipe stops after one, its steps being spent."""
    monkeypatch.setattr(steps, "BIAS_ACTIONS", ())
    monkeypatch.setattr(steps, "VARIANCE_ACTIONS", ())
    monkeypatch.setattr(rounds, "ARCHITECTURE_TRIALS", 0)  # only the unchanged config: no pick
    result, doc = _run(_config("digits", [4], 10), tmp_path / "run", time_budget=budget,
                       max_rounds=10)
    tried = [t for t in doc["tried"] if t["action"] == "search"]
    assert [t["helped"] for t in tried] == [False] * searches, doc["tried"]
    assert [t["text"].split(" (")[0] for t in tried[1:]] == \
        ["another random search over the architecture"] * (searches - 1)
    assert [t["text"].split("(")[1][:6] for t in tried[1:]] == ["2 of 3", "3 of 3"][:searches - 1]
    assert doc["stop_reason"].endswith("a longer search with `deeprecipe tune`")


def test_the_architecture_search_needs_time_for_a_whole_round_after_it(tmp_path,
                                                                       monkeypatch):
    monkeypatch.setattr(steps, "BIAS_ACTIONS", ())
    monkeypatch.setattr(steps, "VARIANCE_ACTIONS", ())
    config = _config("digits", [4], 100_000)  # round 1 takes half the budget
    result, doc = _run(config, tmp_path / "run", time_budget=4.0)
    assert len(doc["rounds"]) == 1 and doc["tried"] == [
        {"round": 2, "action": "search", "text": doc["rounds"][0]["decision"],
         "helped": False}]
    assert not (tmp_path / "run" / "rounds" / "02" / "search.json").exists()


def test_the_budget_stops_training_with_the_best_model_so_far(tmp_path):
    config = _config("digits", [64, 32], 100_000)  # only the budget can end this
    result, doc = _run(config, tmp_path / "run", time_budget=4.0)
    history = (tmp_path / "run" / "history.jsonl").read_text(encoding="utf-8")
    assert '"kind": "budget"' in history.replace('"kind":"budget"', '"kind": "budget"')
    assert doc["stop_reason"].startswith("time budget of 4s")
    assert (tmp_path / "run" / "model.npz").is_file() and result.result.metrics["dev_error"] < 1


def test_parallel_searches_equal_serial(digits_small, tmp_path):
    _, serial, _ = digits_small
    _, parallel = _run(_config("digits", [2], 20), tmp_path / "par", max_rounds=1, workers=2)
    assert parallel["rounds"][0]["evidence"]["alpha_search"] == \
        serial["rounds"][0]["evidence"]["alpha_search"]


def test_rounds_and_decisions_are_written(digits_small):
    result, doc, _ = digits_small
    assert set(doc) >= {"rounds", "narrative", "best_round", "final_config", "warnings"}
    keys = {"round", "changes", "train_error", "dev_error", "test_error", "avoidable_bias",
            "variance", "verdict", "decision", "narrative", "reading", "evidence"}
    for i, r in enumerate(doc["rounds"], start=1):
        assert keys <= set(r) and r["round"] == i
        assert r["narrative"].startswith(f"round {i}: best train error ")
        assert f"curve: {r['reading']['kind'].replace('_', ' ')}" in r["narrative"]
        assert (r["helped"] is None) == (i == 1)
        assert r["narrative"] in doc["narrative"]
    assert doc["rounds"][0]["changes"] == {}
    assert doc == json.loads(json.dumps(result.to_dict()))


def test_best_model_is_saved_as_a_run(digits_small):
    result, doc, run_dir = digits_small
    for name in ("config.toml", "history.jsonl", "model.npz", "model.json", "diagnosis.json",
                 "summary.json", "recipe.json", "report.html"):
        assert (run_dir / name).is_file(), name
    best = doc["rounds"][doc["best_round"] - 1]
    diagnosis = json.loads((run_dir / "diagnosis.json").read_text(encoding="utf-8"))
    assert diagnosis["dev_error"] == pytest.approx(best["dev_error"])
    saved = load_config(run_dir / "config.toml")
    assert saved == result.final_config
    report = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "± noise" in report and "(search: 0.01: " in report  # α tried first: the current


def test_same_seed_same_rounds(digits_small, tmp_path):
    _, first, _ = digits_small
    _, again = _run(_config("digits", [2], 20), tmp_path / "again", max_rounds=3)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in first["rounds"]]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in again["rounds"]] == strip


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
    assert len(doc["rounds"]) == 1 and doc["stop_reason"].startswith("time budget")
    assert "alpha_search" not in doc["rounds"][0]["evidence"]  # no time left to search
    _, doc = _run(config, tmp_path / "lenient", bias_target=1.0, variance_target=1.0)
    assert doc["rounds"][0]["verdict"] == "ok" and len(doc["rounds"]) == 1
    assert doc["targets"] == {"avoidable_bias": 1.0, "variance": 1.0}
    assert doc["rounds"][0]["decision"] == "stop: both gaps are under the targets"


def test_a_diverging_round_counts_as_a_step_that_did_not_help(tmp_path, monkeypatch):
    import deeprecipe.basic_recipe.rounds as module

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
    failed = doc["tried"][0]
    assert failed["helped"] is False
    assert second["narrative"].startswith(f"round 2: training diverged → {failed['action']} "
                                          "step diverged")
    assert doc["tried"][1]["action"] != failed["action"] and third["changes"]
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


def test_a_recipe_refuses_a_directory_another_process_works_in(tmp_path):
    """A live run, babysit or recipe holds the directory: the recipe is refused, --force or
    not, before it writes anything (its lock is the one run and babysit take)."""
    run_dir = tmp_path / "r"
    config = _config("moons", [4], 2)
    with held_elsewhere(run_dir) as pid:
        for options, action in (({}, "start"), ({"force": True}, "start"),
                                ({"resume": True}, "resume")):
            with pytest.raises(RunDirBusyError) as refused:
                recipe(config, run_dir, max_rounds=1, **options)
            assert str(refused.value) == busy(run_dir, action, pid)
    assert [p.name for p in run_dir.iterdir()] == [".lock"]
