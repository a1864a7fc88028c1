"""Search spaces: the right scale, zoom (coarse to fine), validation, mapping onto a Config."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeprecipe.errors import ConfigError, DeepRecipeError
from deeprecipe.runs.config import Config
from deeprecipe.tuning import (
    DEFAULT_SPACE,
    HYPERPARAMETERS,
    Choice,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Uniform,
    apply,
    default_space,
    space_from_config,
)
from deeprecipe.tuning.spaces import distribution_from_dict

ALL = [LogUniform(1e-4, 1e-1), OneMinusLogUniform(0.9, 0.999), Uniform(0.5, 1.0),
       IntUniform(1, 3), IntUniform(16, 256, log=True), Choice([32, 64, 128, 256])]


def test_log_uniform_gives_each_decade_a_quarter():
    rng = np.random.default_rng(0)
    values = np.array([LogUniform(1e-4, 1.0).sample(rng) for _ in range(4000)])
    shares = [np.mean((values >= 10.0 ** e) & (values < 10.0 ** (e + 1))) for e in range(-4, 0)]
    assert all(abs(s - 0.25) <= 0.03 for s in shares), shares


def test_one_minus_log_uniform_puts_half_of_the_betas_above_0_99():
    rng = np.random.default_rng(1)
    values = np.array([OneMinusLogUniform(0.9, 0.999).sample(rng) for _ in range(4000)])
    assert abs(np.mean((values >= 0.99) & (values <= 0.999)) - 0.5) <= 0.03
    assert values.min() >= 0.9 and values.max() <= 0.999


@pytest.mark.parametrize("dist", ALL, ids=lambda d: type(d).__name__)
def test_zoom_stays_within_bounds_and_contains_the_top_values(dist):
    rng = np.random.default_rng(2)
    top = [dist.sample(rng) for _ in range(3)]
    narrow = dist.zoom(top, margin=0.1)
    assert type(narrow) is type(dist)
    if isinstance(dist, Choice):
        assert narrow == dist  # a category has no scale to zoom in on
        return
    assert dist.low <= narrow.low <= min(top) and max(top) <= narrow.high <= dist.high
    lo, hi = narrow.bounds
    assert hi - lo <= dist.bounds[1] - dist.bounds[0]


def test_zoom_works_in_the_distributions_own_scale():
    narrow = LogUniform(1e-4, 1.0).zoom([1e-3, 1e-2], margin=0.25)  # pad = 1 decade
    assert narrow.low == pytest.approx(1e-4) and narrow.high == pytest.approx(1e-1)
    beta = OneMinusLogUniform(0.9, 0.9999).zoom([0.99, 0.999], margin=0.0)
    assert (beta.low, beta.high) == (pytest.approx(0.99), pytest.approx(0.999))


@pytest.mark.parametrize("dist", ALL, ids=lambda d: type(d).__name__)
def test_to_dict_round_trips(dist):
    again = distribution_from_dict(dist.to_dict())
    assert again == dist and type(dist).from_dict(dist.to_dict()) == dist


def test_grid_spans_the_range_on_its_scale():
    assert LogUniform(1e-4, 1e-1).grid(4) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert OneMinusLogUniform(0.9, 0.999).grid(3) == pytest.approx([0.9, 0.99, 0.999])
    assert IntUniform(1, 3).grid(3) == [1, 2, 3]
    assert Choice([32, 64]).grid(5) == [32, 64]


@pytest.mark.parametrize("make, match", [
    (lambda: LogUniform(1e-1, 1e-4), "inverted range"),
    (lambda: Uniform(2.0, 1.0), "inverted range"),
    (lambda: IntUniform(5, 1), "inverted range"),
    (lambda: LogUniform(0.0, 1.0), "cannot reach 0"),
    (lambda: LogUniform(-1.0, 1.0), "cannot reach 0"),
    (lambda: IntUniform(0, 8, log=True), "cannot reach 0"),
    (lambda: OneMinusLogUniform(0.9, 1.0), r"beta bounds in \(0, 1\)"),
    (lambda: OneMinusLogUniform(0.0, 0.9), r"beta bounds in \(0, 1\)"),
    (lambda: Choice([]), "at least one option"),
    (lambda: distribution_from_dict({"dist": "loguniform", "low": 1, "high": 2}),
     "unknown dist 'loguniform'; allowed: log_uniform"),
    (lambda: apply(Config(), {"lr": 0.1}), "unknown hyperparameter 'lr'; allowed: "
                                            "learning_rate"),
    (lambda: space_from_config({"momentum": {"dist": "uniform", "low": 0, "high": 1}}),
     "unknown hyperparameter 'momentum'"),
])
def test_bad_input_is_a_clear_error(make, match):
    with pytest.raises(DeepRecipeError, match=match):
        make()


@given(low=st.floats(1e-8, 1e3), ratio=st.floats(1.0, 1e6), seed=st.integers(0, 2**32))
def test_log_uniform_samples_stay_within_bounds(low, ratio, seed):
    dist = LogUniform(low, low * ratio)
    value = dist.sample(np.random.default_rng(seed))
    assert dist.low <= value <= dist.high


@given(a=st.floats(0.01, 0.99), b=st.floats(0.01, 0.99), seed=st.integers(0, 2**32))
def test_one_minus_log_uniform_samples_stay_within_bounds(a, b, seed):
    dist = OneMinusLogUniform(min(a, b), max(a, b))
    assert dist.low <= dist.sample(np.random.default_rng(seed)) <= dist.high


@given(low=st.integers(1, 100), width=st.integers(0, 1000), log=st.booleans(),
       seed=st.integers(0, 2**32))
def test_int_uniform_samples_are_ints_within_bounds(low, width, log, seed):
    dist = IntUniform(low, low + width, log=log)
    value = dist.sample(np.random.default_rng(seed))
    assert isinstance(value, int) and dist.low <= value <= dist.high


def test_apply_maps_every_hyperparameter_onto_a_new_config():
    base = Config()
    params = {"learning_rate": 0.01, "beta": 0.95, "beta1": 0.8, "beta2": 0.99,
              "epsilon": 1e-7, "hidden_units": 12, "n_layers": 3, "batch_size": 64,
              "decay_rate": 0.5, "l2": 0.1, "keep_prob": 0.8, "epochs": 7}
    assert set(params) <= set(HYPERPARAMETERS)  # every knob (runs.knobs) and DERIVED
    c = apply(base, params)
    assert (c.optimizer.learning_rate, c.optimizer.beta, c.optimizer.beta1,
            c.optimizer.beta2, c.optimizer.epsilon) == (0.01, 0.95, 0.8, 0.99, 1e-7)
    assert c.model.hidden_layer_sizes == [12, 12, 12] and c.model.keep_prob == 0.8
    assert (c.training.batch_size, c.training.epochs) == (64, 7)
    assert (c.schedule.name, c.schedule.decay_rate) == ("inverse_time", 0.5)
    assert c.regularization.l2 == 0.1
    assert base == Config()  # untouched


def test_apply_validates_the_values():
    with pytest.raises(ConfigError, match="keep_prob"):
        apply(Config(), {"keep_prob": 1.5})


def test_default_space_follows_the_notes_order_and_the_optimizer():
    assert list(DEFAULT_SPACE)[0] == "learning_rate"
    assert "beta" not in default_space(Config())  # Adam does not use momentum's beta
    momentum = apply(Config(), {})
    momentum.optimizer.name = "momentum"
    assert "beta" in default_space(momentum)
    assert not {"beta1", "beta2", "epsilon"} & set(default_space(momentum))
    space = space_from_config({"learning_rate": {"dist": "log_uniform", "low": 1e-4,
                                                 "high": 1.0}})
    assert space == {"learning_rate": LogUniform(1e-4, 1.0)}
    assert math.isclose(space["learning_rate"].bounds[0], -4.0)
