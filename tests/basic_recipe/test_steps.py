"""The recipe's steps: which change follows which diagnosis, and how big it is."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from deeprecipe.basic_recipe.readings import read_curve
from deeprecipe.basic_recipe.steps import SEARCH_ACTIONS, VARIANCE_ACTIONS, next_step
from deeprecipe.runs.config import Config, ModelConfig
from deeprecipe.runs.diagnosis import diagnose

PLATEAU = read_curve([2.0, 0.5, 0.31, 0.302, 0.3, 0.3, 0.3, 0.3])


def _data(m: int, image_shape=None) -> SimpleNamespace:
    """What the steps read of the prepared data: the training labels and the image shape."""
    return SimpleNamespace(y_train=np.zeros(m, dtype=np.int64), image_shape=image_shape)


def _config(hidden: list[int], keep_prob: float = 1.0) -> Config:
    return Config(name="steps", model=ModelConfig(hidden_layer_sizes=hidden, keep_prob=keep_prob))


@pytest.mark.parametrize("m, new", [(1_000, [128, 64]), (56_000, [256, 128])])
def test_a_bias_step_widens_by_2_on_small_data_and_by_4_on_large(m, new):
    diag = diagnose(train_error=0.10, dev_error=0.11, human_error=0.0)  # high bias only
    step = next_step(_config([64, 32]), diag, PLATEAU, _data(m), set(), 50)
    assert (step.kind, step.problem) == ("wider", "bias")
    assert step.config.model.hidden_layer_sizes == new
    assert step.config.model.keep_prob == 1.0  # variance is low: no dropout added
    assert step.changes == {"model.hidden_layer_sizes": {"from": [64, 32], "to": new}}


def test_a_bias_step_with_high_variance_too_brings_dropout():
    diag = diagnose(train_error=0.067, dev_error=0.114, human_error=0.0)
    assert diag.verdict == "high_bias_and_variance"
    step = next_step(_config([64, 32]), diag, PLATEAU, _data(56_000), set(), 50)
    assert step.kind == "wider" and step.config.model.keep_prob == 0.8
    assert step.config.model.hidden_layer_sizes == [256, 128]
    assert "keep_prob 1 → 0.8" in step.text and "regularized" in step.text


def test_widths_stop_at_1024():
    diag = diagnose(train_error=0.10, dev_error=0.11, human_error=0.0)
    step = next_step(_config([512, 256]), diag, PLATEAU, _data(56_000), set(), 50)
    assert step.config.model.hidden_layer_sizes == [1024, 1024]
    step = next_step(_config([1024, 512]), diag, PLATEAU, _data(56_000), set(), 50)
    assert step.kind != "wider"  # already at the largest width: the next bias step instead


def test_variance_steps_come_in_the_notes_order_data_then_regularization_then_bigger():
    diag = diagnose(train_error=0.004, dev_error=0.028, human_error=0.0)
    assert diag.verdict == "high_variance"
    config, data, failed = _config([64, 32], keep_prob=0.9), _data(56_000, (28, 28)), set()
    kinds = []
    while (step := next_step(config, diag, PLATEAU, data, failed, 50)) is not None:
        kinds.append(step.kind)
        failed.add(step.kind)
        if step.kind == "wider_dropout":  # a bigger network with at most keep_prob 0.8
            assert step.config.model.hidden_layer_sizes == [256, 128]
            assert step.config.model.keep_prob == 0.8
    assert tuple(kinds) == VARIANCE_ACTIONS + SEARCH_ACTIONS == (
        "augment", "regularize", "wider_dropout", "search")  # the search when they are spent


def test_the_search_is_the_last_step_for_bias_too_and_needs_hidden_layers():
    diag = diagnose(train_error=0.10, dev_error=0.11, human_error=0.0)
    failed = {"longer", "wider", "deeper", "adam"}
    step = next_step(_config([64, 32]), diag, PLATEAU, _data(5000), failed, 50)
    assert step.kind == "search" and step.problem == "bias" and step.config is None
    assert next_step(_config([64, 32]), diag, PLATEAU, _data(5000), failed | {"search"},
                     50) is None
    assert next_step(_config([]), diag, PLATEAU, _data(5000), failed, 50) is None


def test_when_bias_steps_stop_paying_without_a_human_error_the_search_still_comes():
    """No human-level error: after a bias step fails, the gap may be Bayes error, so no more
    bias steps; but the budget left still goes to the random search (football: 3 s of 30)."""
    diag = diagnose(train_error=0.077, dev_error=0.071, human_error=0.0)
    assert diag.verdict == "high_bias"
    step = next_step(_config([64, 32]), diag, PLATEAU, _data(200), {"wider"}, 50,
                     bias_pays=False)
    assert (step.kind, step.problem) == ("search", "bias")
    assert next_step(_config([64, 32]), diag, PLATEAU, _data(200), {"wider", "search"}, 50,
                     bias_pays=False) is None
    ok = diagnose(train_error=0.0, dev_error=0.0, human_error=0.0)
    assert next_step(_config([64, 32]), ok, PLATEAU, _data(200), set(), 50,
                     bias_pays=False) is None  # nothing to fix: no search either


@pytest.mark.parametrize("image_shape", [None, (8, 8), (15, 40, 3)])
def test_augmentation_is_only_for_images_of_16_pixels_a_side(image_shape):
    diag = diagnose(train_error=0.004, dev_error=0.028, human_error=0.0)
    step = next_step(_config([64, 32]), diag, PLATEAU, _data(56_000, image_shape), set(), 50)
    assert step.kind == "regularize"
    step = next_step(_config([64, 32]), diag, PLATEAU, _data(56_000, (16, 16, 3)), set(), 50)
    assert step.kind == "augment"


def test_a_wider_variance_step_keeps_a_stronger_dropout():
    diag = diagnose(train_error=0.004, dev_error=0.028, human_error=0.0)
    step = next_step(_config([64, 32], keep_prob=0.5), diag, PLATEAU, _data(500),
                     {"augment", "regularize"}, 50)
    assert step.kind == "wider_dropout" and step.config.model.keep_prob == 0.5
    assert step.changes == {"model.hidden_layer_sizes": {"from": [64, 32], "to": [128, 64]}}
