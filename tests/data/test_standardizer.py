"""Tests for deeprecipe.data.standardizer: fit on train only, zero variance, dtype, dict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from deeprecipe.data import Standardizer
from deeprecipe.errors import DataError, DeepRecipeError, InvalidValueError, NotFittedError


def test_fit_uses_train_only():
    rng = np.random.default_rng(0)
    X_train = rng.normal(5.0, 3.0, size=(200, 4))
    X_dev = rng.normal(-2.0, 0.5, size=(50, 4))
    s = Standardizer().fit(X_train)
    np.testing.assert_allclose(s.mean_, X_train.mean(axis=0))
    np.testing.assert_allclose(s.std_, X_train.std(axis=0))
    Z_dev = s.transform(X_dev)
    np.testing.assert_allclose(Z_dev, (X_dev - X_train.mean(0)) / X_train.std(0))
    assert not np.allclose(Z_dev.mean(axis=0), 0.0)  # dev is *not* re-centred


def test_zero_variance_feature_is_only_centred():
    X = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]])
    s = Standardizer().fit(X)
    Z = s.transform(X)
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    assert s.std_[1] == 1.0
    np.testing.assert_allclose(s.transform([[2.0, 8.0]])[0, 1], 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved_and_inverse(dtype):
    rng = np.random.default_rng(1)
    X = rng.normal(3.0, 2.0, size=(64, 5)).astype(dtype)
    s = Standardizer()
    Z = s.fit_transform(X)
    assert Z.dtype == dtype
    back = s.inverse_transform(Z)
    assert back.dtype == dtype
    np.testing.assert_allclose(back, X, rtol=1e-5, atol=1e-5)


def test_integer_input_becomes_float32():
    Z = Standardizer().fit_transform(np.arange(12).reshape(6, 2))
    assert Z.dtype == np.float32


def test_dict_round_trip_through_json_and_npz(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 3)).astype(np.float32)
    s = Standardizer().fit(X)
    s2 = Standardizer.from_dict(json.loads(json.dumps(s.to_dict())))
    np.testing.assert_array_equal(s2.transform(X), s.transform(X))
    d = s.to_dict()
    np.savez(tmp_path / "s.npz", mean=np.asarray(d["mean"]), std=np.asarray(d["std"]))
    with np.load(tmp_path / "s.npz", allow_pickle=False) as f:
        s3 = Standardizer.from_dict({"mean": f["mean"], "std": f["std"]})
    np.testing.assert_array_equal(s3.transform(X), s.transform(X))
    with pytest.raises(DataError):
        Standardizer.from_dict({"mean": [0.0], "std": [0.0]})


def test_errors():
    with pytest.raises(NotFittedError, match="fit"):
        Standardizer().transform(np.zeros((2, 2)))
    s = Standardizer().fit(np.ones((4, 3)))
    with pytest.raises(DeepRecipeError, match="3"):
        s.transform(np.zeros((2, 5)))
    with pytest.raises(DataError, match="NaN"):
        Standardizer().fit(np.array([[1.0], [np.nan]]))


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 5)),
              elements=st.integers(-64_000, 64_000).map(lambda v: v / 64)))
def test_standardized_train_has_mean_0_std_1(X):
    Z = Standardizer().fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-7)
    constant = np.ptp(X, axis=0) == 0
    std = Z.std(axis=0)
    np.testing.assert_allclose(std[~constant], 1.0, rtol=1e-6)
    np.testing.assert_allclose(std[constant], 0.0, atol=1e-12)


def test_streaming_fit_matches_the_two_pass_formula_chunk_by_chunk():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10_007, 5)) * [1.0, 1e-3, 10.0, 1.0, 0.0] + [0.0, 1e6, -5.0, 2.0, 7.0]
    whole = Standardizer().fit(X)
    np.testing.assert_array_equal(whole.mean_, X.mean(axis=0))  # one chunk: exactly np
    np.testing.assert_array_equal(whole.std_[:4], X.std(axis=0)[:4])
    for chunk in (1, 97, 4096):
        s = Standardizer().fit(X, chunk_rows=chunk)
        np.testing.assert_allclose(s.mean_, whole.mean_, rtol=1e-12)
        np.testing.assert_allclose(s.std_, whole.std_, rtol=1e-7)  # 1e6 offset: still stable
        assert s.std_[4] == 1.0  # constant in every chunk: only centred


def test_fit_on_rows_reads_only_those_rows():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1_000, 3)).astype(np.float32)
    rows = np.sort(rng.choice(1_000, 300, replace=False))
    s = Standardizer().fit(X, rows=rows, chunk_rows=64)
    np.testing.assert_allclose(s.mean_, X[rows].astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(s.std_, X[rows].astype(np.float64).std(axis=0), rtol=1e-9)
    X[rows[5], 1] = np.nan
    with pytest.raises(DataError, match="NaN or inf"):
        Standardizer().fit(X, rows=rows)


def test_images_are_normalized_per_channel_not_per_pixel():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(50, 4, 4, 3))
    images[:, 0, 0, :] = 0.0  # a near-constant border pixel
    images[..., 2] *= 0.1     # a dimmer channel
    X = images.reshape(50, -1)
    s = Standardizer(image_shape=(4, 4, 3)).fit(X)
    pixels = images.reshape(-1, 3)
    assert s.mean_.reshape(16, 3) == pytest.approx(np.tile(pixels.mean(axis=0), (16, 1)))
    assert s.std_.reshape(16, 3) == pytest.approx(np.tile(pixels.std(axis=0), (16, 1)))
    Z = s.transform(X).reshape(50, 16, 3)
    assert np.abs(Z[:, 0, :]).max() < 2.0  # the border pixel is not blown up
    assert Z.reshape(-1, 3).mean(axis=0) == pytest.approx(np.zeros(3), abs=1e-6)
    gray = Standardizer(image_shape=(4, 4)).fit(X[:, :16])  # one channel: one mu, one sigma
    assert np.unique(gray.mean_).size == 1 and gray.mean_[0] == pytest.approx(X[:, :16].mean())
    restored = Standardizer.from_dict(json.loads(json.dumps(s.to_dict())))
    assert restored.transform(X) == pytest.approx(s.transform(X))
    with pytest.raises(DataError, match="image_shape"):
        Standardizer(image_shape=(5, 5)).fit(X)


@pytest.mark.parametrize("image_shape", ["x", (0,), (-1, 3), (2.5, 2), (), 8, (True, 2)])
def test_a_bad_image_shape_is_refused_at_construction(image_shape):
    with pytest.raises(InvalidValueError, match=r"image_shape must be None or a tuple of "
                                                r"positive ints .*, got"):
        Standardizer(image_shape=image_shape)


@pytest.mark.parametrize("mean", ["x", [[1.0], "a"], {"a": 1}, [[1.0], [1.0, 2.0]]])
def test_from_dict_refuses_values_that_are_not_numbers(mean):
    with pytest.raises(DataError, match="'mean' and 'std' must be lists of numbers"):
        Standardizer.from_dict({"mean": mean, "std": [1.0, 1.0]})


@given(st.floats(1e155, 1e307))
def test_finite_values_too_large_to_square_are_named_as_such(scale):
    X = np.array([[1.0], [-1.0], [0.5]]) * scale
    with pytest.raises(DataError, match="too large to standardize"):
        Standardizer().fit(X)
