"""Initializers: the variance each scale promises, measured on large draws."""

from __future__ import annotations

import numpy as np
import pytest
from _hostile import attempt, hostile, scalars
from hypothesis import given, settings
from hypothesis import strategies as st

from deeprecipe.engine import initializers
from deeprecipe.engine.initializers import (
    INITIALIZERS,
    glorot,
    he,
    initialize,
    random,
    xavier,
    zeros,
)
from deeprecipe.errors import DeepRecipeError, InvalidValueError

N_IN, N_OUT = 1000, 300  # 300,000 draws: the sample variance is within ~0.3% (1 sigma)


@pytest.mark.parametrize("fn, variance", [
    (he, 2 / N_IN),
    (xavier, 1 / N_IN),
    (glorot, 2 / (N_IN + N_OUT)),
    (random, 0.01 ** 2),
])
def test_variance_matches_the_formula(fn, variance):
    W = fn((N_IN, N_OUT), np.random.default_rng(0))
    assert W.shape == (N_IN, N_OUT)
    assert W.var() == pytest.approx(variance, rel=0.03)
    assert abs(W.mean()) < 3 * np.sqrt(variance / W.size) + 1e-12


def test_random_uses_its_scale():
    W = random((N_IN, N_OUT), np.random.default_rng(1), scale=0.5)
    assert W.var() == pytest.approx(0.25, rel=0.03)


@pytest.mark.parametrize("n_in", [2, 50, 800])
def test_he_variance_follows_fan_in(n_in):
    W = initialize("he", (n_in, 100_000 // n_in), np.random.default_rng(2), dtype=np.float64)
    assert W.var() == pytest.approx(2 / n_in, rel=0.05)


def test_glorot_is_symmetric_in_fan_in_and_fan_out():
    a = glorot((30, 70), np.random.default_rng(3))
    b = glorot((70, 30), np.random.default_rng(3))
    np.testing.assert_allclose(a.std() / b.std(), 1.0, rtol=1e-12)  # same scale both ways


def test_zeros():
    W = zeros((4, 3), np.random.default_rng(0))
    np.testing.assert_array_equal(W, 0.0)
    W = initialize("zeros", (4, 3), np.random.default_rng(0))
    assert W.shape == (4, 3) and W.dtype == np.float32 and not W.any()


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype(name, dtype):
    W = initialize(name, (5, 4), np.random.default_rng(0), dtype=dtype)
    assert W.dtype == dtype and W.shape == (5, 4)


def test_default_dtype_is_float32():
    assert initialize("he", (3, 2), np.random.default_rng(0)).dtype == np.float32


def test_same_generator_state_same_weights():
    a = initialize("xavier", (6, 5), np.random.default_rng(7))
    b = initialize("xavier", (6, 5), np.random.default_rng(7))
    c = initialize("xavier", (6, 5), np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_registry_names():
    assert set(INITIALIZERS) == {"zeros", "random", "he", "xavier", "glorot"}
    assert INITIALIZERS["he"] is initializers.he


@pytest.mark.parametrize("name", ["he_normal", "HE", "", None, 3])
def test_unknown_name_raises(name):
    with pytest.raises(InvalidValueError, match=r"init must be one of 'zeros', 'random', 'he', "
                                                r"'xavier', 'glorot', got"):
        initialize(name, (3, 2), np.random.default_rng(0))
    assert issubclass(InvalidValueError, DeepRecipeError)


# -- hostile inputs: a correct matrix or a DeepRecipeError (checked before any allocation) ------
_SIDES = st.one_of(st.integers(-2, 6), st.sampled_from([10**7, 2**40]), scalars)


@settings(max_examples=300)
@given(name=st.sampled_from(sorted(INITIALIZERS)),
       shape=st.one_of(hostile, st.tuples(_SIDES, _SIDES), st.lists(_SIDES, max_size=3)),
       rng=st.one_of(st.just("default"), scalars),
       scale=st.one_of(st.just(0.01), scalars, st.floats(-1, 1)))
def test_an_initializer_draws_the_shape_or_raises_a_deeprecipe_error(name, shape, rng, scale):
    rng = np.random.default_rng(0) if rng == "default" else rng
    W = attempt(lambda: INITIALIZERS[name](shape, rng, scale))
    if W is None:
        return
    assert W.shape == tuple(shape) and min(W.shape) >= 1 and np.isfinite(W).all()
    assert W.dtype == np.float64 and (name != "zeros" or not W.any())


@pytest.mark.parametrize("args, message", [
    (((0, 3),), r"shape\[0\] must be >= 1, got 0"),  # he: a ZeroDivisionError before
    (((3,),), r"shape must be a pair \(n_in, n_out\)"),
    (((10**7, 10**7),), r"would need .* more than"),  # a MemoryError before
    (((2, 3), None), "rng must be a numpy Generator"),
    (((2, 3), np.random.default_rng(0), "x"), "scale must be a real number"),
])
def test_bad_arguments_are_named(args, message):
    args = (*args, np.random.default_rng(0))[:max(len(args), 2)]
    with pytest.raises(DeepRecipeError, match=message):
        he(*args)


def test_initialize_needs_a_float_dtype():
    with pytest.raises(DeepRecipeError, match="dtype must be float32 or float64"):
        initialize("he", (2, 3), np.random.default_rng(0), dtype=np.int32)  # zeros before
