"""_memory: a network's parameters, gradients and optimizer state are checked as one total."""

from __future__ import annotations

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe.engine._memory import check_network_memory
from deeprecipe.engine.layers import BatchNorm, Dense, ReLU


def _layers() -> list:
    # on 50 inputs: Dense(40) 4*50*40*4 = 32,000 bytes, BatchNorm 10*40*4 = 1,600,
    # Dense(40) 4*40*40*4 = 25,600: each under 40,000 bytes, 59,200 together
    return [Dense(40), BatchNorm(), ReLU(), Dense(40), ReLU()]


def test_the_total_counts_every_layer_as_its_own_build_check_does():
    assert check_network_memory(_layers(), 50, np.float32) == 32_000 + 1_600 + 25_600
    assert check_network_memory(_layers(), 50, np.float64) == 2 * 59_200
    assert check_network_memory([ReLU()], 50, np.float32) == 0


def test_layers_each_allowed_but_too_large_together_are_refused_before_any_is_built(
        monkeypatch):
    monkeypatch.setenv("DEEPRECIPE_MAX_BYTES", "40000")
    for layer, n_in in zip(_layers(), (50, 40, 40, 40, 40), strict=True):
        layer.build(n_in, np.random.default_rng(0))  # each alone is within the limit
    layers = _layers()
    with pytest.raises(dr.DeepRecipeError) as info:
        dr.Sequential(layers, input_dim=50, random_state=0)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert message.startswith("the network on 50 inputs would need 0.0565 MiB for its "
                              "parameters, gradients and optimizer state, more than the "
                              "0.0381 MiB allowed")
    assert "DEEPRECIPE_MAX_BYTES" in message
    # the largest layers first, by index
    assert message.index("layer 0, Dense(40) on 50 inputs") < message.index(
        "layer 3, Dense(40) on 40 inputs") < message.index("layer 1, BatchNorm on 40 inputs")
    assert all(not layer.params and not layer.grads and not layer.state for layer in layers)


def test_a_network_within_the_limit_builds(monkeypatch):
    monkeypatch.setenv("DEEPRECIPE_MAX_BYTES", "59200")
    net = dr.Sequential(_layers(), input_dim=50, random_state=0)
    assert net.n_params == 50 * 40 + 2 * 40 + 40 * 40 + 40


def test_a_late_build_is_checked_as_well(monkeypatch):
    net = dr.Sequential(_layers(), random_state=0)
    monkeypatch.setenv("DEEPRECIPE_MAX_BYTES", "40000")
    with pytest.raises(dr.DeepRecipeError, match="the network on 50 inputs would need"):
        net.build(50)
    assert not net.built
