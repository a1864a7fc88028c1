"""Inverted dropout: statistics of the mask, expectation preserved, identity at inference."""

from __future__ import annotations

import numpy as np
import pytest

from deeprecipe.engine.layers import Dropout
from deeprecipe.errors import DeepRecipeError, InvalidTypeError, InvalidValueError


def _built(keep_prob, n=500, *, seed=0, dtype=np.float64) -> Dropout:
    layer = Dropout(keep_prob)
    layer.build(n, np.random.default_rng(seed), dtype)
    return layer


@pytest.mark.parametrize("keep_prob", [0.2, 0.5, 0.6, 0.86])
def test_kept_fraction_is_keep_prob(keep_prob):
    layer = _built(keep_prob)
    A = np.ones((200, 500))
    out = layer.forward(A, training=True)
    n = A.size
    kept = np.count_nonzero(out) / n
    sigma = np.sqrt(keep_prob * (1 - keep_prob) / n)
    assert abs(kept - keep_prob) < 3 * sigma


@pytest.mark.parametrize("keep_prob", [0.5, 0.8])
def test_expectation_is_preserved(keep_prob):
    layer = _built(keep_prob)
    A = np.ones((200, 500))
    out = layer.forward(A, training=True)
    # each entry is 1/keep_prob with probability keep_prob, else 0: mean 1, var (1-p)/p
    sigma = np.sqrt((1 - keep_prob) / keep_prob / A.size)
    assert abs(out.mean() - 1.0) < 3 * sigma
    # survivors are scaled up by exactly 1/keep_prob (inverted dropout)
    np.testing.assert_allclose(out[out != 0], 1.0 / keep_prob, rtol=1e-15)


def test_survivors_keep_their_value_over_keep_prob():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((50, 40))
    layer = _built(0.7, 40)
    out = layer.forward(A, training=True)
    kept = out != 0
    np.testing.assert_allclose(out[kept], A[kept] / 0.7, rtol=1e-15)


@pytest.mark.parametrize("keep_prob", [0.5, 1.0])
def test_identity_at_inference(keep_prob):
    layer = _built(keep_prob, 6)
    A = np.random.default_rng(4).standard_normal((5, 6))
    out = layer.forward(A, training=False)
    np.testing.assert_array_equal(out, A)
    assert layer._cache == {}


def test_keep_prob_one_is_the_identity_in_training_too():
    layer = _built(1.0, 6)
    A = np.random.default_rng(5).standard_normal((5, 6))
    np.testing.assert_array_equal(layer.forward(A, training=True), A)
    dA = np.random.default_rng(6).standard_normal((5, 6))
    np.testing.assert_array_equal(layer.backward(dA), dA)


def test_a_fresh_mask_every_training_forward():
    layer = _built(0.5, 100)
    A = np.ones((20, 100))
    first = layer.forward(A, training=True)
    second = layer.forward(A, training=True)
    assert not np.array_equal(first != 0, second != 0)


def test_frozen_reuses_the_last_mask():
    layer = _built(0.5, 100)
    A = np.ones((20, 100))
    first = layer.forward(A, training=True)
    layer.frozen = True
    np.testing.assert_array_equal(layer.forward(2 * A, training=True), 2 * first)
    layer.frozen = False
    assert not np.array_equal(layer.forward(A, training=True), first)


def test_backward_applies_the_same_mask():
    layer = _built(0.6, 30)
    A = np.ones((10, 30))
    out = layer.forward(A, training=True)
    dA = np.random.default_rng(7).standard_normal((10, 30))
    np.testing.assert_allclose(layer.backward(dA), dA * out, rtol=1e-15)  # out == mask here


def test_same_seed_same_masks():
    A = np.ones((10, 30))
    a = _built(0.5, 30, seed=11).forward(A, training=True)
    b = _built(0.5, 30, seed=11).forward(A, training=True)
    c = _built(0.5, 30, seed=12).forward(A, training=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("keep_prob", [0.6, 1.0])
def test_float32_preserved(keep_prob):
    layer = _built(keep_prob, 8, dtype=np.float32)
    A = np.ones((4, 8), np.float32)
    out = layer.forward(A, training=True)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    if keep_prob < 1:
        assert layer._cache["mask"].dtype == np.float32
    assert layer.forward(A).dtype == np.float32


@pytest.mark.parametrize("keep_prob, error, message", [
    (1.5, InvalidValueError, r"keep_prob must be in \(0.0, 1.0\], got 1.5"),
    (-0.2, InvalidValueError, r"keep_prob must be in \(0.0, 1.0\], got -0.2"),
    (0.0, InvalidValueError, r"keep_prob must be in \(0.0, 1.0\], got 0.0"),
    (float("nan"), InvalidValueError, r"keep_prob must be in \(0.0, 1.0\]"),
    ("0.5", InvalidTypeError, r"keep_prob must be a real number, got '0.5'"),
    (None, InvalidTypeError, r"keep_prob must be a real number, got None"),
])
def test_bad_keep_prob_is_refused(keep_prob, error, message):
    with pytest.raises(error, match=message):
        Dropout(keep_prob)
    assert issubclass(error, DeepRecipeError)


def test_a_training_forward_before_build_is_a_not_fitted_error():
    with pytest.raises(DeepRecipeError, match=r"Dropout.forward\(\) needs build"):
        Dropout(0.5).forward(np.ones((2, 3), np.float32), training=True)
