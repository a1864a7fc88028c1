"""Shared by the recipe's tests: a small config and a recipe run that returns recipe.json."""

from __future__ import annotations

import json
from pathlib import Path

from deeprecipe.basic_recipe.loop import RecipeResult, recipe
from deeprecipe.runs.config import (
    Config,
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    TrainingConfig,
)
from deeprecipe.runs.prepare import prepare_data

__all__ = ["_config", "_run"]


def _config(dataset: str, hidden: list[int], epochs: int) -> Config:
    return Config(name="recipe-test", seed=0, data=DataConfig(dataset=dataset),
                  model=ModelConfig(hidden_layer_sizes=hidden),
                  optimizer=OptimizerConfig(name="adam", learning_rate=0.01),
                  training=TrainingConfig(epochs=epochs, batch_size="full",
                                          early_stopping=False))


def _run(config: Config, run_dir: Path, **kwargs) -> tuple[RecipeResult, dict]:
    """The recipe judged on the dev set unless ``folds`` is given: these small sets would
    otherwise be cross-validated automatically (``test_small_dev_sets_are_cross_validated``)."""
    data = prepare_data(config, check_distribution=False)  # the slow check is not under test
    result = recipe(config, run_dir, data=data, **{"folds": 1, **kwargs})
    return result, json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))
