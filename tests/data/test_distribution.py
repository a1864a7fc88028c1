"""Tests for deeprecipe.data.distribution: the classifier two-sample test on MNIST."""

from __future__ import annotations

import numpy as np
import pytest
from _data import require
from scipy.ndimage import gaussian_filter

from deeprecipe.data import DistributionCheck, same_distribution
from deeprecipe.errors import DataError, DeepRecipeError


@pytest.fixture(scope="module")
def mnist_halves():
    (path,) = require("mnist.npz")
    with np.load(path, allow_pickle=False) as d:
        X = d["X_test"]
    order = np.random.default_rng(0).permutation(len(X))[:3000]
    return X[order[:1500]].astype(np.float32), X[order[1500:]].astype(np.float32)


def test_two_random_halves_look_the_same(mnist_halves):
    A, B = mnist_halves
    check = same_distribution(A, B, random_state=0)
    assert isinstance(check, DistributionCheck)
    assert check.verdict == "same" and check.same, check.message
    assert abs(check.auc - 0.5) < 0.1


@pytest.mark.parametrize("change", ["blur", "dark"])
def test_blurred_or_darkened_images_are_flagged(mnist_halves, change):
    A, B = mnist_halves
    B = gaussian_filter(B, sigma=(0, 1, 1)) if change == "blur" else B * 0.7
    check = same_distribution(A, B, random_state=0)
    assert check.verdict == "different", check.message
    assert check.auc > 0.9 and "different" in check.message


def test_synthetic_shift_and_dict():
    rng = np.random.default_rng(1)
    same = same_distribution(rng.normal(size=(200, 4)), rng.normal(size=(200, 4)))
    shifted = same_distribution(rng.normal(size=(200, 4)), rng.normal(1.0, size=(200, 4)))
    assert same.verdict == "same" and shifted.verdict == "different"
    assert set(shifted.to_dict()) >= {"auc", "auc_std", "verdict", "message"}


def test_bad_input():
    rng = np.random.default_rng(2)
    with pytest.raises(DataError, match="features"):
        same_distribution(rng.normal(size=(20, 3)), rng.normal(size=(20, 4)))
    with pytest.raises(DataError, match="NaN"):
        same_distribution(np.full((20, 2), np.nan), rng.normal(size=(20, 2)))
    with pytest.raises(DeepRecipeError):
        same_distribution(rng.normal(size=(20, 2)), rng.normal(size=(20, 2)), threshold=0.4)
