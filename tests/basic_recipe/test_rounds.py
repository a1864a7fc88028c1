"""The recipe's rounds: with k-fold cross-validation judging the changes, the searches rank
their trials by it too, and a resumed recipe reuses the saved searches."""

from __future__ import annotations

import json
from types import SimpleNamespace

from deeprecipe.basic_recipe import rounds, searches, steps
from deeprecipe.basic_recipe.loop import recipe, resume_recipe
from deeprecipe.runs.config import (
    Config,
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    TrainingConfig,
)
from deeprecipe.runs.prepare import prepare_data

MOONS = Config(name="rounds-cv", seed=0, data=DataConfig(dataset="moons", n_samples=150),
               model=ModelConfig(hidden_layer_sizes=[8]),
               optimizer=OptimizerConfig(name="adam", learning_rate=0.01),
               training=TrainingConfig(epochs=20, batch_size="full", early_stopping=False))


def _doc(run_dir) -> dict:
    return json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))


def test_a_cross_validated_recipe_ranks_its_search_by_cv_error_and_resumes_it(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(steps, "BIAS_ACTIONS", ())
    monkeypatch.setattr(steps, "VARIANCE_ACTIONS", ())
    monkeypatch.setattr(rounds, "ARCHITECTURE_TRIALS", 4)
    run_dir = tmp_path / "run"
    recipe(MOONS, run_dir, data=prepare_data(MOONS, check_distribution=False), max_rounds=2,
           folds=5)
    doc = _doc(run_dir)
    saved = json.loads((run_dir / "rounds" / "02" / "search.json").read_text(encoding="utf-8"))
    assert doc["rounds"][1]["evidence"]["architecture_search"] == saved
    assert saved["ranked_by"] == "cv_error" and saved["folds"] == 5
    assert saved["n_ranked"] == doc["rounds"][0]["evidence"]["n_judged"] == 120
    assert "trials (ranked by cross-validated error): " in doc["tried"][-1]["text"]

    def no_trials(*args, **kwargs):
        raise AssertionError("a resumed recipe must reuse its saved searches")

    monkeypatch.setattr(searches, "_trials", no_trials)
    resume_recipe(run_dir)
    again = _doc(run_dir)
    assert [r["narrative"] for r in again["rounds"]] == [r["narrative"] for r in doc["rounds"]]
    assert again["rounds"][1]["evidence"]["architecture_search"] == saved


def test_a_recipe_on_the_dev_set_ranks_its_search_by_dev_error(tmp_path, monkeypatch):
    monkeypatch.setattr(steps, "BIAS_ACTIONS", ())
    monkeypatch.setattr(steps, "VARIANCE_ACTIONS", ())
    monkeypatch.setattr(rounds, "ARCHITECTURE_TRIALS", 4)
    recipe(MOONS, tmp_path / "run", data=prepare_data(MOONS, check_distribution=False),
           max_rounds=2, folds=1)
    found = _doc(tmp_path / "run")["rounds"][1]["evidence"]["architecture_search"]
    assert found["ranked_by"] == "dev_error" and found["n_ranked"] == 30
    assert all("cv_error" not in t for t in found["trials"])
    assert "cross-validated" not in _doc(tmp_path / "run")["tried"][-1]["text"]


def _state(total: float | None, left: float, seconds: float) -> SimpleNamespace:
    return SimpleNamespace(budget=SimpleNamespace(total=total, left=left),
                           accepted=SimpleNamespace(seconds=seconds))


def test_a_search_fits_by_the_accepted_round_s_training_not_its_search():
    """Football, seed 1: round 3's search took 13 s and its training and folds 0.4 s; 14.5 s
    of the 30 s are left, room for another search (half of it) and a round after it."""
    fits = rounds.Rounds._search_fits
    assert fits(_state(30.0, 14.5, 0.4)) and fits(_state(30.0, 1.6, 0.4))
    assert not fits(_state(30.0, 1.5, 0.4))  # four times the round is the least
    assert fits(_state(None, 0.0, 100.0))  # no budget: the count of searches limits them

